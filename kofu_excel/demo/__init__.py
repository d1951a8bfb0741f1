"""Demo data for trying the toolkit and for the tests: workbooks with fictitious figures
(:mod:`.sample`, ``kofu sample``) and a prefecture's inbox as it arrives by e-mail
(:mod:`.inbox`, ``kofu sample --inbox``), built from :mod:`.builders`' zip and e-mail bytes.

Nothing in the stages imports this package.
"""
