from blogpod.cli import main

main()
