"""Where Rossmann's files come from (plain constants: the plugin's card imports without pandas)."""

KAGGLE_URL = "https://www.kaggle.com/c/rossmann-store-sales/data"
REDOWNLOAD = f"re-download it from the Kaggle competition rossmann-store-sales ({KAGGLE_URL})"
