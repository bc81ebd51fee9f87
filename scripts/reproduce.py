"""Train every implemented model on every dataset that can be reached and print
glt's figures beside the papers' (table + training-curve PNG).

    python scripts/reproduce.py --quick                      # bundled Cora, minutes on CPU
    python scripts/reproduce.py --root ../shared/data --device cuda
"""
from glt.recipes.reproduce import main

if __name__ == "__main__":
    main()
