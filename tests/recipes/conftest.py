import pytest

from glt.datasets import load_planetoid, row_normalize


@pytest.fixture(scope="module")
def cora():
    """Bundled Cora with row-normalised features."""
    data = load_planetoid("cora")
    data.x = row_normalize(data.x)
    return data
