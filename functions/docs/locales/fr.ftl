# Ce que disent les pages de documentation.

docs-thing-asset = Fichier
