# What saved-attractions-remove says. French in fr.ftl, same ids.

saved-attraction-removed = Removed from saved attractions
