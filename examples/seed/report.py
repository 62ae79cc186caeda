def render(rows):
    # tabulate is a third-party package: the task's environment must provide it.
    from tabulate import tabulate

    return tabulate(rows, headers=["city", "temperature"])


def pip_version():
    # pip is installed on the host interpreter, never in venvflow environments: visible only with systemSitePackages.
    import pip

    return pip.__version__
