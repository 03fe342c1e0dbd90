#!/usr/bin/env python3
"""`cohort run`'s input-shaping options against GNU parallel itself: each
command line is run by both tools in the same fresh directory, and the
commands (--dry-run), the output of the jobs and the exit status must agree.

Options covered: --colsep, -N/-n/-L/--max-lines, --link and :::+/::::+,
--header (with {colname}), -d/--delimiter, -E, --shuf (compared sorted: the
order is random in both). The command lines come from `man parallel`,
`man parallel_tutorial` and `man parallel_examples`, plus their edge cases.
Without GNU parallel (/usr/bin/parallel) the comparisons are skipped, and the
test checks our answers alone (the expected values are GNU's).

Usage: run_cli_inputs_test.py COHORT [--parallel PATH] [--only SUBSTRING]
"""
import argparse
import os
import shutil
import subprocess
import sys
import tempfile

FILES = {
    'five': 'a\nb\nc\nd\ne\n',
    'cont': 'a \nb\nc\nd\n',
    'tsv': 'h1\th2\nx\ty\n1\t2\n',
    'csv': 'a,b,\n,c\n',
    'eofile': 'a\nb\nEND\nc\n',
    'nums': ''.join(f'{i}\n' for i in range(1, 11)),
    'names.csv': 'name,age\nann,31\nbob,42\n',
    'empty': '',
}

# (options and command, standard input or None, sort the output?)
CASES = [
    # -N / -n: several inputs per job
    ('-N2 echo {} ::: a b c d e', None, False),
    ('-N2 echo {1}-{2} ::: a b c d e', None, False),
    ('-N2 echo {1}-{2}-{3}-{4} ::: a b c ::: 1 2', None, False),
    ('-N3 echo {3} {2} {1} :::: nums', None, False),
    ('-n2 echo ::: a b c d e', None, False),
    ('--max-args 3 echo ::: a b c d e', None, False),
    ('--max-replace-args 2 echo {2} ::: a b c', None, False),
    ('-N0 echo x ::: a b c', None, False),
    ('-N0 echo a{}b ::: 1 2', None, False),
    ('-n2 echo x{}y {1} ::: a b c', None, False),
    ('-N2 echo x{}y {1} ::: a b c', None, False),
    ('-N2 echo a{}b {2} c{1}d ::: 1 2 3', None, False),
    ('-N2 echo a{}b{} ::: 1 2 3', None, False),
    ('-N2 echo {} a{/}b ::: x/1 2 3', None, False),
    ('-N2 echo {#} {}', 'a\nb\nc\n', False),
    ('-N2 echo', 'a\nb\nc\nd\ne\n', False),
    # -L / --max-lines: lines per job, a trailing blank continues the line
    ('-L2 echo :::: five', None, False),
    ('-L2 echo :::: cont', None, False),
    ('-L2 echo {1}/{2} :::: five', None, False),
    ('-L2 echo x{}y ::: a b c', None, False),
    ('-L 2 echo ::: "a " b c', None, False),
    ('--max-lines 2 echo :::: five', None, False),
    ('--max-lines 0 echo :::: five', None, False),
    ('-L2 echo', 'a \nb\nc\nd\n', False),
    # --link, :::+ and ::::+
    ('--link echo ::: a b c ::: 1 2', None, False),
    ("--xapply echo '{1} {#} {2}' ::: a ::: b", None, False),
    ('--link echo ::: a b ::: 1 2 3 4 ::: x', None, False),
    ('echo ::: a b c :::+ 1 2', None, False),
    ('echo ::: a b c :::+ 1 2 3 4', None, False),
    ('echo ::: a b ::: 1 2 3 :::+ x y z', None, False),
    ('echo ::: a b :::+ 1 2 ::: x y', None, False),
    ('echo :::: five ::::+ cont', None, False),
    ('echo {1}={2} ::: A B C :::+ 1 2 3', None, False),
    ('echo ::: a b ::::+ empty', None, False),
    ('echo :::: empty ::::+ empty ::: x', None, False),
    # --colsep
    ('--colsep , echo {1}-{2}-{3} :::: csv', None, False),
    ('--colsep , echo {2} ::: a,b c,d ::: x,y', None, False),
    ("--colsep ',+' echo {2} ::: a,,b", None, False),
    ("--colsep '\\t' echo {2} {1} :::: tsv", None, False),
    ('--colsep , echo {2}{1}', 'a,b\nc,d\n', False),
    ("-L1 --colsep ' ' echo {2}", 'a b\nc d\n', False),
    ('--colsep , -N2 echo {1} {4} ::: a,b c,d e,f', None, False),
    ('--colsep , echo "[{1}][{2}]" {}', ' a , b \n\ta\t,b\n', False),
    ("--colsep '|' echo {2}", 'a|b.c\n', False),
    ("--colsep '' echo {2} {3}", 'abc\n', False),
    ("--colsep '\\|' echo {2}", 'a|b.c\n', False),
    # --header
    ("--header : --colsep '\\t' echo {h2} {h1} {1} :::: tsv", None, False),
    ('--header : --colsep , echo {name} is {age} :::: names.csv', None, False),
    ('--header : echo {f} {g} ::: f 1 2 ::: g 3', None, False),
    ('--header : echo {f}{f}x ::: f 1 2 ::: g 5', None, False),
    ("--header '.*' --colsep , echo {age.} :::: names.csv", None, False),
    ("--header : --colsep '\\t' echo {y} {x}", 'x\ty\n1\t2\n', False),
    ('--header 0 echo {five} {cont} :::: five cont', None, False),
    ('--header : echo {B} {A}', 'A\tB\n1\tone\n x \t y \n', False),
    ('--header 0 echo {five} {eofile} -a five -a eofile', None, False),
    # -E
    ('-E END echo :::: eofile', None, False),
    ('-E b echo ::: a b c', None, False),
    ('-E b echo ::: x y :::: eofile', None, False),
    ('-E END echo', 'a\nb\nEND\nc\n', False),
    # -d / --delimiter
    ('-d , echo ::: x', None, False),
    ("-d '\\t' echo :::: tsv", None, False),
    ('-d , echo :::: csv', None, False),
    ('--delimiter , echo', 'a,b,c', False),
    ("-d '\\0' echo", 'a\0b\nc\0', False),
    # -X, -m, --xargs: as many inputs as fit, spread over the job slots at the end
    ('-j1 -X echo x{}y ::: a b c d e', None, False),
    ('-j2 -X echo x{}y ::: a b c d e', None, False),
    ('-j3 -X echo x{}y ::: a b c d e', None, False),
    ('-j3 -m echo ::: a b c d e', None, False),
    ('-j2 -m echo x{}y {1} ::: a b c d e', None, False),
    ('-j2 --xargs echo ::: a b c d e', None, False),
    ('-j2 -X -N2 echo ::: a b c d e', None, False),
    ('-j3 -X echo ::: a', None, False),
    ('-j4 -X echo {} {#} ::: a b c d e f g', None, False),
    ('-j2 -X echo :::: nums', None, False),
    ('-j3 -m echo', 'a\nb\nc\nd\n', False),
    ('-X -j1 -N 6 echo {-1}orrec{1} ::: t B X D E c', None, False),
    ('-X -j2 -N6 echo ::: a b c d e f', None, False),
    ('--max-chars 25 -X echo', 'line 1\nline 1\nline 2\n', False),
    ('-s 29 -X -j1 echo a{}b{}c', '1\n2\n3\n4\n', False),
    ('-s 23 -m -j1 echo a{}b{}c', '1\n2\n3\n4\n', False),
    # --shuf: the same jobs, in a random order
    ('--shuf echo ::: 1 2 3 4 5 6 7 8', None, True),
    ('--shuf -N3 echo :::: nums', None, True),
    ('--shuf echo {1}{2} ::: a b ::: 1 2', None, True),
    # running, not only --dry-run
    ("-N2 printf '%s|' ::: a b c", None, False),
    ("--colsep , 'exit {2}' ::: a,0 b,3 c,0 d,4", None, False),
]

# What GNU parallel 20221122 answers, for a machine without it.
EXPECTED_WITHOUT_GNU = {
    '-N2 echo {1}-{2} ::: a b c d e': ('echo a-b\necho c-d\necho e-\n', 0),
    '-N0 echo x ::: a b c': ('echo x \necho x \necho x \n', 0),
    '--link echo ::: a b c ::: 1 2': ('echo a 1\necho b 2\necho c 1\n', 0),
    '--colsep , echo {1}-{2}-{3} :::: csv': ("echo a-b-''\necho ''-c-\n", 0),
}


def run_tool(argv, cwd, stdin):
    p = subprocess.run(argv, cwd=cwd, input=(stdin or '').encode(), stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE, timeout=60)
    return p.stdout.decode(errors='replace'), p.returncode, p.stderr.decode(errors='replace')


def answers(tool, case, stdin, sort, dry):
    """Runs `tool run?` on case in a fresh directory; returns (stdout, status)."""
    with tempfile.TemporaryDirectory(prefix='inputs-') as d:
        for name, text in FILES.items():
            with open(os.path.join(d, name), 'w') as f:
                f.write(text)
        flags = '-k --dry-run ' if dry else '-k '
        argv = ['/bin/sh', '-c', f'{tool} {flags}{case}']
        out, code, err = run_tool(argv, d, stdin)
        if sort:
            # The jobs' order and grouping are random: compare the words.
            out = ' '.join(sorted(out.split()))
        return out, code, err


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('cohort')
    ap.add_argument('--parallel', default=shutil.which('parallel') or '/usr/bin/parallel')
    ap.add_argument('--only', default='')
    a = ap.parse_args()
    gnu = a.parallel if a.parallel and os.access(a.parallel, os.X_OK) else None
    ours = f"'{os.path.abspath(a.cohort)}' run"
    failures = 0
    checked = 0
    for case, stdin, sort in CASES:
        if a.only not in case:
            continue
        running = case.startswith(("-N2 printf", "--colsep , 'exit"))
        for dry in ([False] if running else [True, False]):
            got = answers(ours, case, stdin, sort, dry)
            if gnu:
                want = answers(f"'{gnu}'", case, stdin, sort, dry)
            elif dry and case in EXPECTED_WITHOUT_GNU:
                want = EXPECTED_WITHOUT_GNU[case] + ('',)
            else:
                continue
            checked += 1
            label = f"{'--dry-run ' if dry else ''}{case}"
            if got[:2] != want[:2]:
                failures += 1
                print(f'FAIL {label}\n  GNU parallel: {want[:2]!r}\n  cohort run:   {got[:2]!r}'
                      f'\n  cohort stderr: {got[2]!r}')
            else:
                print(f'ok   {label}')
    if not gnu:
        print('GNU parallel not found: checked our answers against the recorded ones only')
    print(f'{checked - failures}/{checked} agree')
    return 1 if failures or checked == 0 else 0


if __name__ == '__main__':
    sys.exit(main())
