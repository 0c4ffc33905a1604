from workbook.entry import main

main()
