def run_shell(ctl):
    return 0
