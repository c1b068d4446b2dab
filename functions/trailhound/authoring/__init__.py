"""Writing rules: Sigma files loaded, checked and compiled, and the tools around them.

Rule files are parsed here (YAML with the line of every key, pySigma, the trailhound keys),
checked (`validation`, `lint`), tested (`ruletests`) and compiled into the engine's condition
trees (`compiler`), at build time into a rule bundle (`bundle`). The Lambda imports none of it
while its rule bundle is current, so its cold start parses neither YAML nor Sigma.
"""
