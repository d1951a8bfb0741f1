from kofu_excel.intake import DEFAULT_LIMITS, Limits, check_workbook  # moved here by the formats helper  # noqa: F401, I001
