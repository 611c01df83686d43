# bash completion for orl: verbs, bench subcommands and suites, the learners after --algo, estimators after --estimators,
# layouts after --layout, files elsewhere. Installed as share/bash-completion/completions/orl.
_orl() {
    local cur prev verbs
    cur=${COMP_WORDS[COMP_CWORD]}
    prev=${COMP_WORDS[COMP_CWORD-1]}
    verbs="ingest info validate convert filter gen train eval ope bench policy model demo help"
    if [ "$COMP_CWORD" -eq 1 ]; then
        COMPREPLY=($(compgen -W "$verbs --help --version" -- "$cur"))
        return
    fi
    case "$prev" in
    help) COMPREPLY=($(compgen -W "$verbs" -- "$cur")); return ;;
    --algo) COMPREPLY=($(compgen -W "bc fbc awr td3bc iql cql bcq morel sac" -- "$cur")); return ;;
    --layout) COMPREPLY=($(compgen -W "d4rl minari sqlite" -- "$cur")); return ;;
    --format) COMPREPLY=($(compgen -W "md json junit" -- "$cur")); return ;;
    --estimators)
        COMPREPLY=($(compgen -W "is pdis wis wpdis ris-is ris-pdis ris-wis ris-wpdis fqe dr wdr mb" -- "$cur"))
        return ;;
    --emit) COMPREPLY=($(compgen -W "slurm parallel mpi" -- "$cur")); return ;;
    --behavior)
        COMPREPLY=($(compgen -W "random medium expert medium-replay medium-expert diverse" -- "$cur") $(compgen -f -- "$cur"))
        return ;;
    esac
    if [ "${COMP_WORDS[1]}" = policy ] && [ "$COMP_CWORD" -eq 2 ]; then
        COMPREPLY=($(compgen -W "from-table info export" -- "$cur"))
        return
    fi
    if [ "${COMP_WORDS[1]}" = model ] && [ "$COMP_CWORD" -eq 2 ]; then
        COMPREPLY=($(compgen -W "fit info" -- "$cur"))
        return
    fi
    if [ "${COMP_WORDS[1]}" = bench ] && [ "$COMP_CWORD" -eq 2 ]; then
        COMPREPLY=($(compgen -W "suites show run run-job report compare jobs" -- "$cur"))
        return
    fi
    if [ "${COMP_WORDS[1]}" = bench ] && [ "$COMP_CWORD" -eq 3 ] &&
        { [ "${COMP_WORDS[2]}" = show ] || [ "${COMP_WORDS[2]}" = run ]; }; then
        COMPREPLY=($(compgen -W "smoke classic" -- "$cur") $(compgen -f -- "$cur"))
        return
    fi
    COMPREPLY=($(compgen -f -- "$cur"))
}
complete -o filenames -F _orl orl
