# Sourced by .ci/run from the clone's root: a CmdStan for the tests marked cmdstan.
# CI machines cannot download a CmdStan release; the kit ../shared/cmdstan (beside the clone)
# assembles one offline. It is built once per machine (about 10 minutes on 2 cores) into a folder
# outside the clone, which later runs reuse. Never fails the run: without the kit and without an
# earlier build, CMDSTAN stays unset and the CmdStan tests skip, saying why. A CMDSTAN already set
# is kept.
if [ -z "${CMDSTAN:-}" ]; then
    cmdstan_ci="${XDG_CACHE_HOME:-${HOME:-/tmp}/.cache}/mixfit-ci/cmdstan-2.35.0"
    cmdstan_built() {
        [ -x "$cmdstan_ci/bin/stanc" ] && [ -x "$cmdstan_ci/bin/stansummary" ] &&
            compgen -G "$cmdstan_ci/src/cmdstan/main*.o" >/dev/null
    }
    if ! cmdstan_built && [ -x ../shared/cmdstan/assemble.sh ]; then
        mkdir -p "$(dirname "$cmdstan_ci")"
        echo "ci: building CmdStan 2.35.0 into $cmdstan_ci (once per machine, about 10 minutes)"
        # one build at a time on this machine: a run that waited finds it built
        (
            if command -v flock >/dev/null; then flock 9; fi
            cmdstan_built || ../shared/cmdstan/assemble.sh "$cmdstan_ci"
        ) 9>"$cmdstan_ci.lock" >"$cmdstan_ci.log" 2>&1 ||
            echo "ci: the CmdStan build failed, see $cmdstan_ci.log"
    fi
    if cmdstan_built; then
        export CMDSTAN="$cmdstan_ci"
        echo "ci: the CmdStan tests use $CMDSTAN"
    else
        echo "ci: no CmdStan built here; the CmdStan tests will skip"
    fi
    unset -f cmdstan_built
    unset cmdstan_ci
fi
