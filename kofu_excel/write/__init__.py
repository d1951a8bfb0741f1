"""The output files: xlsx machinery (``xlsx``: every XlsxWriter extension), atomic writes
(``atomic``), the submission workbooks (``template``), the validation report (``report``) and
annotated copies (``annotate``). The summary workbook and the letters have packages of their
own (``kofu_excel.summary``, ``kofu_excel.letters``) built on ``xlsx`` and ``atomic``.
"""
