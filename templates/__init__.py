"""Letter templates of kofu-advise (Jinja), shipped as the package ``kofu_excel.templates``.

Copy any of these files into a folder of your own, edit it, and pass ``--templates FOLDER``:
a file there replaces the one of the same name here. All wording is in ``_wording.j2``; the
``_letter.*.j2`` files lay it out for each format.
"""
