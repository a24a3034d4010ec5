# What the documentation pages say. French in fr.ftl, same ids.

docs-thing-asset = Asset
