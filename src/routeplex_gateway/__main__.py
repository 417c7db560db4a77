"""`python -m routeplex_gateway` is the `routeplex` command."""

from .cli import main

if __name__ == "__main__":
    main()
