# fish completion for pyvirsh (generated: pyvirsh completion fish)
function _pyvirsh_completion
    env _PYVIRSH_COMPLETE=fish_complete COMP_WORDS=(commandline -cp) COMP_CWORD=(commandline -t) \
        pyvirsh 2>/dev/null
end
complete --no-files --command pyvirsh --arguments "(_pyvirsh_completion)"

