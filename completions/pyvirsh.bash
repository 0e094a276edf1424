# bash completion for pyvirsh (generated: pyvirsh completion bash)
_pyvirsh_completion() {
    local IFS=$'\n'
    local line="${COMP_LINE:0:COMP_POINT}"
    local cur="${COMP_WORDS[COMP_CWORD]}"
    # bash split the typed word at ':' (COMP_WORDBREAKS); answers replace only its last part.
    local typed="${line##*[[:space:]]}"
    local prefix="${typed%"$cur"}"
    local value
    COMPREPLY=()
    for value in $(env COMP_LINE="$line" _PYVIRSH_COMPLETE=bash_complete "$1" 2>/dev/null); do
        COMPREPLY+=("${value#"$prefix"}")
    done
    return 0
}
complete -o nosort -F _pyvirsh_completion pyvirsh

