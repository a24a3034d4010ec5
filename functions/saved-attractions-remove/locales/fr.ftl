# Ce que dit saved-attractions-remove. Anglais dans en.ftl, mêmes identifiants.

saved-attraction-removed = Retiré de vos sites enregistrés
