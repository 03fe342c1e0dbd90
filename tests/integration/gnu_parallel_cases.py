"""The cases of the differential suite against GNU parallel
(gnu_parallel_diff_test.py, issue 16).

One case: the argument list after the program name (a shell-quoted string,
split with shlex; both tools get the same words), optional standard input,
optional setup files (written into each tool's fresh directory), further
steps run in the same directory (e.g. a --resume after a first run), what to
compare, the mark (`expect`) and the source it was drawn from:

  tests:     GNU parallel's own testsuite/tests-to-run/<file> (adapted to be
             fast and deterministic: -j1 where the order of jobs decides the
             answer, short sleeps, relative paths)
  man:       man parallel (20221122), the option or EXAMPLE it shows
  tutorial:  man parallel_tutorial, its section
  examples:  man parallel_examples, its EXAMPLE

The mark's first word is all the runner reads (agree, differs, unsupported,
unknown; see the runner's docstring); the rest names the issue point, so
flipping a mark when the work lands is a one-word edit, e.g.
`expect=f"unknown: {COLSEP}"` -> `expect=f"agree: {COLSEP}"`.
"""

import re
import shlex
from dataclasses import dataclass, field

# What a case compares (all of them unless it says otherwise).
ALL = ("stdout", "status", "joblog", "files")

# The issue points the marks name: the lead flips a mark as each one lands.
ALIAS = "issue 16: GNU's other spellings of options we have (g16a)"
DELAY_VALUE = "issue 16: --delay with a value like .2 (g16a)"
KEEP_LB = "issue 16: -k with --line-buffer (g16a)"
JOBLOG_APPEND = "issue 16: --joblog +FILE appends (g16a)"
HALT_STATUS = "issue 16: the exit status after --halt (g16a)"
SELF_KILL = "issue 16: Exitval of a job that kills itself (g16a)"
NEWLINE = "issue 16: a ::: value with a newline is two jobs in GNU (g16a)"
RESUME_FAILED = "issue 16: --resume-failed with a changed command (g16a)"
REFUSE = "issue 16: a documented GNU option gets a clear refusal, not 'unknown option' (g16a)"
COLSEP = "issue 16: --colsep (g16b)"
MAX_ARGS = "issue 16: -N/-n/--max-args (g16b)"
XARGS = "issue 16: -X/-m/--xargs (g16b)"
MAX_LINES = "issue 16: -L/-l/--max-lines (g16b)"
LINK = "issue 16: --link and :::+/::::+ (g16b)"
HEADER = "issue 16: --header (g16b)"
DELIMITER = "issue 16: -d/--delimiter (g16b)"
EOF_STRING = "issue 16: -E (g16b)"
SHUF = "issue 16: --shuf (g16b)"
REPLACE = "issue 16: -I/--replace and the other replacement-string options"
PLUS = "issue 16: --plus replacement strings"
PLUS_SKIP = "--plus's {choose_k} and {uniq} skip jobs (GNU logs them with Exitval -2 and counts them as failed): refused; filter the inputs instead"
PLUS_REMOTE = "--plus's {host} {sshlogin} {hgrp} {agrp} name a job's remote host: refused (cohort runs its jobs on this machine)"
EOF_E = "-e/--eof (GNU's deprecated -E) is refused; the case's -i/--replace is checked again with -E"
RESULTS = "issue 16: --results DIR"
TAGSTRING = "issue 16: --tagstring"
UNGROUP = "issue 16: -u/--ungroup"
VERBOSE = "issue 16: -v"
QUOTE = "issue 16: -q/--quote"
PIPE = "issue 16: --pipe/--pipepart"
RETRY_FAILED = "issue 16: --retry-failed"
NICE = "issue 16: --nice"
LOAD = "issue 16: --load/--memfree"
PROGRESS = "issue 16: --progress"
PERL = "issue 16: {= perl =} stays out: a clear refusal"
JOBLOG_STDOUT = "issue 16: --joblog - (the log on standard output)"
LOCAL = "issue 16: -r, --trim, --arg-sep, --arg-file-sep, --wd, --tmpdir, --compress, -e, options given twice (g16g)"
RETIRED = "GNU parallel's retired options (-g -B -T -U -W -Y -H): refused with GNU's advice, as GNU refuses them (exit 255)"
RESUME_CHANGED = "deliberate: --resume refuses a job log whose command at a Seq differs from the input's"


@dataclass
class Step:
    args: list
    stdin: str = None
    ordered: bool = False


@dataclass
class Case:
    name: str
    source: str
    steps: list
    files: dict = field(default_factory=dict)
    compare: tuple = ALL
    expect: str = "agree"

    @property
    def mark(self):
        return re.split(r"[\s:]", self.expect.strip(), maxsplit=1)[0]

    @property
    def reason(self):
        parts = self.expect.split(":", 1)
        return parts[1].strip() if len(parts) > 1 else ""

    @property
    def source_kind(self):
        return self.source.split(":", 1)[0]


CASES = []

# A job log's first line, for the cases that start from a log GNU wrote.
LOG_HEADER = "Seq\tHost\tStarttime\tJobRuntime\tSend\tReceive\tExitval\tSignal\tCommand\n"

# The tutorial's input files.
TUTORIAL_FILES = {
    "abc-file": "A\nB\nC\n",
    "def-file": "D\nE\nF\n",
    "abc0-file": "A\0B\0C\0",
    "abc_-file": "A_B_C_",
    "tsv-file.tsv": "f1\tf2\nA\tB\nC\tD\n",
}


def ordered_by(args):
    """Whether both tools define the output's order: -k, or one job at a time."""
    for i, word in enumerate(args):
        if word in ("-k", "--keep-order", "-kq", "-kv", "-kj", "-kj1", "-j1", "-P1"):
            return True
        if word in ("-j", "--jobs", "-P") and i + 1 < len(args) and args[i + 1] == "1":
            return True
    return False


def step(line, stdin=None, ordered=None):
    args = shlex.split(line)
    return Step(args, stdin, ordered_by(args) if ordered is None else ordered)


def case(source, line, *, stdin=None, files=None, then=(), compare=ALL, expect="agree", ordered=None):
    """Adds a case: `line` is the arguments after the program's name;
    `then` further steps (strings, or (string, stdin) pairs) in the same
    directory."""
    steps = [step(line, stdin, ordered)]
    for more in then:
        more_line, more_stdin = (more, None) if isinstance(more, str) else more
        steps.append(step(more_line, more_stdin, ordered))
    kind = source.split(":", 1)[0]
    CASES.append(
        Case(
            name=f"{kind}-{sum(c.source_kind == kind for c in CASES) + 1:03d}",
            source=source,
            steps=steps,
            files=dict(files or {}),
            compare=compare,
            expect=expect,
        )
    )


def tutorial(section, line, **kw):
    kw["files"] = {**TUTORIAL_FILES, **kw.get("files", {})}
    case(f"tutorial: {section}", line, **kw)


# ---------------------------------------------------------------------------
# man parallel_tutorial
# ---------------------------------------------------------------------------
tutorial("Input sources", "echo ::: A B C")
tutorial("Input sources", "-k echo ::: A B C")
tutorial("Input sources", "-a abc-file echo")
tutorial("Input sources", "echo", stdin="A\nB\nC\n")
tutorial("Multiple input sources", "echo ::: A B C ::: D E F")
tutorial("Multiple input sources", "-k echo ::: A B C ::: D E F")
tutorial("Multiple input sources", "-a abc-file -a def-file echo")
tutorial("Multiple input sources", "-a - -a def-file echo", stdin="A\nB\nC\n")
tutorial("Multiple input sources", "echo :::: - def-file", stdin="A\nB\nC\n")
tutorial("Multiple input sources", "echo ::: A B C :::: def-file")
tutorial("Linking arguments", "--link echo ::: A B C ::: D E F")
tutorial("Linking arguments", "--link echo ::: A B C D E ::: F G")
tutorial("Linking arguments", "echo :::: abc-file :::+ G H I :::: def-file")
tutorial("Linking arguments", "echo :::: abc-file ::: G H I ::::+ def-file")
tutorial("Linking arguments", "echo ::: A B C D E :::+ F G")
tutorial(
    "Changing the argument separator",
    "--arg-sep ,, echo ,, A B C :::: def-file",
    expect=f"agree: {LOCAL}",
)
tutorial(
    "Changing the argument separator",
    "--arg-file-sep // echo ::: A B C // def-file",
    expect=f"agree: {LOCAL}",
)
tutorial("Changing the argument delimiter", "-d _ echo :::: abc_-file")
tutorial("Changing the argument delimiter", "-d '\\0' echo :::: abc0-file")
tutorial("Changing the argument delimiter", "-0 echo :::: abc0-file")
tutorial(
    "End-of-file value for input source",
    "-E stop echo ::: A B stop C D",
)
tutorial("Skipping empty lines", "--no-run-if-empty echo", stdin="1\n\n2\n", expect=f"agree: {LOCAL}")
tutorial("No command means argument is command", "::: 'echo foo' true 'echo bar'")
tutorial("Replacement strings", "echo ::: A/B.C")
tutorial("Replacement strings", "echo {} ::: A/B.C")
tutorial("Replacement strings", "echo {.} ::: A/B.C")
tutorial("Replacement strings", "echo {/} ::: A/B.C")
tutorial("Replacement strings", "echo {//} ::: A/B.C")
tutorial("Replacement strings", "echo {/.} ::: A/B.C")
tutorial("Replacement strings", "echo {#} ::: A B C")
tutorial("Replacement strings", "-j1 echo {%} ::: A B C")
tutorial("Changing the replacement strings", "-I ,, echo ,, ::: A/B.C", expect=f"agree: {REPLACE}")
tutorial(
    "Changing the replacement strings",
    "--extensionreplace ,, echo ,, ::: A/B.C",
    expect=f"agree: {REPLACE}",
)
tutorial(
    "Changing the replacement strings",
    "--basenamereplace ,, echo ,, ::: A/B.C",
    expect=f"agree: {REPLACE}",
)
tutorial(
    "Changing the replacement strings",
    "--dirnamereplace ,, echo ,, ::: A/B.C",
    expect=f"agree: {REPLACE}",
)
tutorial(
    "Changing the replacement strings",
    "--basenameextensionreplace ,, echo ,, ::: A/B.C",
    expect=f"agree: {REPLACE}",
)
tutorial(
    "Changing the replacement strings",
    "--seqreplace ,, echo ,, ::: A B C",
    expect=f"agree: {REPLACE}",
)
tutorial(
    "Changing the replacement strings",
    "-j1 --slotreplace ,, echo ,, ::: A B C",
    expect=f"agree: {REPLACE}",
)
tutorial(
    "Perl expression replacement string",
    "echo '{= s:\\.[^.]+$::;s:\\.[^.]+$::; =}' ::: foo.tar.gz",
    expect=f"differs: {PERL}",
)
tutorial(
    "Dynamic replacement strings",
    "--rpl '{..} s:\\.[^.]+$::;s:\\.[^.]+$::;' echo '{..}' ::: foo.tar.gz",
    expect=f"unsupported: {REFUSE}",
)
tutorial("Positional replacement strings", "echo {1} and {2} ::: A B ::: C D")
tutorial("Positional replacement strings", "echo /={1/} //={1//} /.={1/.} .={1.} ::: A/B.C D/E.F")
tutorial("Positional replacement strings", "echo 1={1} 2={2} 3={3} -1={-1} -2={-2} -3={-3} ::: A ::: B ::: C")
tutorial(
    "Input from columns",
    "--colsep '\\t' echo 1={1} 2={2} :::: tsv-file.tsv",
)
tutorial(
    "Header defined replacement strings",
    "--header : echo f1={f1} f2={f2} ::: f1 A B ::: f2 C D",
)
tutorial(
    "Header defined replacement strings",
    "--header : --colsep '\\t' echo f1={f1} f2={f2} :::: tsv-file.tsv",
)
for plus in (
    "{}",
    "{+/}/{/}",
    "{.}.{+.}",
    "{+/}/{/.}.{+.}",
    "{..}.{+..}",
    "{+/}/{/..}.{+..}",
    "{...}.{+...}",
    "{+/}/{/...}.{+...}",
):
    tutorial(
        "More pre-defined replacement strings",
        f"--plus echo {plus} ::: dir/sub/file.ex1.ex2.ex3",
        expect=f"agree: {PLUS}",
    )
tutorial(
    "More pre-defined replacement strings",
    "--plus echo Job {#} of {##} ::: 1 2 3 4 5",
    expect=f"agree: {PLUS}",
)
for plus in ("{:-myval}", "{:2}", "{:2:3}", "{#bc}", "{#abc}", "{%de}", "{%def}", "{/def/ghi}", "{^a}", "{^^a}"):
    tutorial(
        "More pre-defined replacement strings",
        f"--plus echo {plus} ::: abcAbcdef",
        expect=f"agree: {PLUS}",
    )
tutorial("More than one argument", "--jobs 4 -m echo ::: 1 2 3 4 5 6 7 8 9 10")
tutorial(
    "More than one argument",
    "--jobs 4 -m echo pre-{}-post ::: A B C D E F G",
)
tutorial(
    "More than one argument",
    "--jobs 4 -X echo pre-{}-post ::: A B C D E F G",
)
tutorial("More than one argument", "--xargs echo", stdin="1\n2\n3\n")
tutorial("More than one argument", "-N3 echo ::: A B C D E F G H")
tutorial(
    "More than one argument",
    "-N3 echo 1={1} 2={2} 3={3} ::: A B C D E F G H",
)
tutorial("More than one argument", "-N0 echo foo ::: 1 2 3")
tutorial("Quoting", "perl -e 'print \"@ARGV\\n\"' ::: This wont work")
tutorial("Quoting", "-q perl -e 'print \"@ARGV\\n\"' ::: This works", expect=f"agree: {QUOTE}")
tutorial("Quoting", "perl -e \\''print \"@ARGV\\n\"'\\' ::: This works, too")
tutorial("Quoting", "perl\\ -e\\ \\'print\\ \\\"@ARGV\\\\n\\\"\\' ::: This also works")
tutorial("Trimming space", "--trim r echo pre-{}-post ::: ' A '", expect=f"agree: {LOCAL}")
tutorial("Trimming space", "--trim l echo pre-{}-post ::: ' A '", expect=f"agree: {LOCAL}")
tutorial("Trimming space", "--trim lr echo pre-{}-post ::: ' A '", expect=f"agree: {LOCAL}")
tutorial("Trimming space", "echo pre-{}-post ::: ' A '")
tutorial("Respecting the shell", "echo \\={} ::: zsh bash ls")
tutorial("Tag output", "--tag echo foo-{} ::: A B C")
tutorial("Tag output", "--tagstring {}-bar echo foo-{} ::: A B C", expect=f"agree: {TAGSTRING}")
tutorial("Print the command", "--dryrun echo {} ::: A B C", expect=f"agree: {ALIAS}")
tutorial("Print the command", "--dry-run echo {} ::: A B C")
tutorial("Print the command", "--verbose echo {} ::: A B C", expect=f"agree: {VERBOSE}")
SLEEPY = "'printf \"%s-start\\n%s\" {} {}; sleep {}; printf \"%s\\n\" -middle; echo {}-end' ::: 0.3 0.2 0.1"
tutorial("Control the output", f"-j2 {SLEEPY}")
tutorial("Control the output", f"-j2 --linebuffer {SLEEPY}", expect=f"agree: {ALIAS}")
tutorial("Control the output", f"-j2 --line-buffer {SLEEPY}")
tutorial("Control the output", f"-j2 -k {SLEEPY}")
tutorial("Saving output into files", "--results outdir echo ::: A B C", expect=f"agree: {RESULTS}")
tutorial(
    "Saving output into files",
    "--header : --results outdir echo ::: f1 A B ::: f2 C D",
    expect=f"agree: {RESULTS}",
)
tutorial(
    "Saving output into files",
    "--files echo ::: A B C",
    compare=("status",),
    expect=f"unsupported: {REFUSE}",
)
tutorial("Shuffle job order", "--shuf echo ::: 1 2 3 ::: a b c ::: A B C")
tutorial("Delaying jobs", "--delay 0.1 echo Starting {} ::: 1 2 3")
tutorial("Delaying jobs", "--delay .1 echo Starting {} ::: 1 2 3", expect=f"agree: {DELAY_VALUE}")
tutorial("Timing out", "--timeout 2 'sleep {}; echo {}' ::: 0.1 0.2 9")
tutorial("Progress information", "--eta echo ::: 1 2 3")
tutorial("Progress information", "--progress echo ::: 1 2 3", expect=f"agree: {PROGRESS}")
tutorial("Progress information", "--bar echo ::: 1 2 3")
tutorial("Logfile", "--joblog log exit ::: 1 2 3 0")
tutorial(
    "Resuming jobs",
    "--joblog log exit ::: 1 2 3 0",
    then=["--resume --joblog log exit ::: 1 2 3 0 0 0"],
)
tutorial(
    "Resuming jobs",
    "-j1 --joblog log 'echo {}; exit {}' ::: 1 2 3 0",
    then=["-j1 --resume --joblog log 'echo {}; exit {}' ::: 1 2 3 0 0 0"],
)
tutorial(
    "Resuming jobs",
    "-j1 --joblog log 'echo {}; exit {}' ::: 1 2 3 0",
    then=["-j1 --resume-failed --joblog log 'echo {}; exit {}' ::: 1 2 3 0 0 0"],
)
tutorial(
    "Resuming jobs",
    "--joblog log exit ::: 1 2 3 0",
    then=["--resume-failed --joblog log exit ::: 1 2 3 0 0 0"],
)
tutorial(
    "Resuming jobs",
    "--joblog log exit ::: 1 2 3 0",
    then=["--retry-failed --joblog log"],
    expect=f"agree: {RETRY_FAILED}",
)
tutorial("Termination", "-j1 --halt soon,fail=1 'echo {}; exit {}' ::: 0 0 1 2 3")
tutorial("Termination", "-j1 --halt now,fail=1 'echo {}; exit {}' ::: 0 0 1 2 3")
tutorial("Termination", "-j1 --halt soon,fail=20% 'echo {}; exit {}' ::: 0 1 2 3 4 5 6 7 8 9")
tutorial("Termination", "-j1 --halt now,success=1 'echo {}; exit {}' ::: 1 2 3 0 4 5 6")
tutorial("Termination", "-j1 --halt now,done=2 'echo {}; exit {}' ::: 1 0 3 0 4")
tutorial(
    "Retrying failing commands",
    "-k -j1 --retries 3 'echo tried {} >>runs; echo completed {}; exit {}' ::: 1 2 0",
)
tutorial("Termination signal", "--termseq TERM,200,KILL,25 echo ::: 1 2", expect=f"agree: {ALIAS}")
tutorial("Termination signal", "--term-seq TERM,200,KILL,25 echo ::: 1 2")
tutorial(
    "Limiting the resources",
    # (adapted: 100% waits on a busy CI machine, for both tools alike)
    "--load 1000% echo load is less than {} job per cpu ::: 10",
    expect=f"agree: {LOAD}",
)
tutorial(
    "Limiting the resources",
    "--noswap echo the system is not swapping ::: now",
    expect=f"unsupported: {REFUSE}",
)
tutorial(
    "Limiting the resources",
    "--memfree 1G echo will run if more than 1 GB is ::: free",
    expect=f"agree: {LOAD}",
)
tutorial(
    "Limiting the resources",
    "--nice 17 echo this is being run with nice -n ::: 17",
    expect=f"agree: {NICE}",
)
tutorial("Interactivity", "--interactive echo ::: 1 2 3", expect=f"unsupported: {REFUSE}")
tutorial("Number of simultaneous jobs", "-j2 echo ::: 1 2 3 4")
tutorial("Number of simultaneous jobs", "-j 0 echo ::: 1 2 3 4")
tutorial("Number of simultaneous jobs", "-j 200% echo ::: 1 2 3 4")
tutorial("Number of simultaneous jobs", "-j +0 echo ::: 1 2 3 4")
tutorial("Number of simultaneous jobs", "-j -1 echo ::: 1 2 3 4")
tutorial("Number of simultaneous jobs", "--jobs 1 echo ::: 1 2 3 4")
tutorial("GNU Parallel as queue system", "-j2", stdin="echo a\necho b\necho c\n")
tutorial("GNU Parallel as queue system", "-k", stdin="echo a\necho b\necho c\n")

# ---------------------------------------------------------------------------
# man parallel_examples
# ---------------------------------------------------------------------------
HTML = {"a.html": "<p>a</p>\n", "b.html": "<p>b</p>\n"}


def example(title, line, **kw):
    case(f"examples: {title}", line, **kw)


example("Working as xargs -n1. Argument appending", "gzip --best", stdin="a.html\nb.html\n", files=HTML)
example("Working as xargs -n1. Argument appending", "-0 gzip --best", stdin="a.html\0b.html\0", files=HTML)
example("Reading arguments from command line", "gzip --best ::: a.html b.html", files=HTML)
example("Reading arguments from command line", "cp {} {.}.txt ::: a.html b.html", files=HTML)
LOGS = {"x.log": "x\n", "y.log": "y\n", "destdir/.keep": ""}
example("Inserting multiple arguments", "mv {} destdir", stdin="x.log\ny.log\n", files=LOGS)
example(
    "Inserting multiple arguments",
    "-m mv {} destdir",
    stdin="x.log\ny.log\n",
    files=LOGS,
)
example(
    "Inserting multiple arguments",
    "-0 -m mv {} destdir",
    stdin="x.log\0y.log\0",
    files=LOGS,
)
PICTS = {f"pict{n}.jpg": "" for n in ("00", "01", "02", "03")}
example("Context replace", "rm pict{}.jpg", stdin="00\n01\n02\n", files=PICTS)
example("Context replace", "-X rm pict{}.jpg", stdin="00\n01\n02\n", files=PICTS)
example("Context replace", "-m rm", stdin="pict00.jpg\npict01.jpg\n", files=PICTS)
GZ = {"a.gz": b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\x03K\xe4\x02\x00\x07\xa1\xea\xdd\x02\x00\x00\x00"}
example("Substitution and redirection", "zcat {} '>'{.} ::: a.gz", files=GZ)
example("Substitution and redirection", "'zcat {} >{.}' ::: a.gz", files=GZ)
DIRS = {"d1/x": "", "d1/y": "", "d2/z": ""}
example("Composed commands", "'echo -n {}\" \"; ls {}|wc -l'", stdin="d1\nd2\n", files=DIRS)
example("Composed commands", "'(echo -n {}\" \"; ls {}|wc -l) >{}.dir'", stdin="d1\nd2\n", files=DIRS)
example(
    "Composed commands",
    "'a={}; name=${a##*/};' 'upper=$(echo \"$name\" | tr \"[:lower:]\" \"[:upper:]\");' 'echo \"$name - $upper\"'",
    stdin="./d1/x\n./d2/z\n",
    files=DIRS,
)
example(
    "Composed commands",
    "'mv {} \"$(echo {} | tr \"[:upper:]\" \"[:lower:]\")\"'",
    stdin="ABC\nDeF\n",
    files={"ABC": "1", "DeF": "2"},
)
example(
    "Composed commands",
    "'if [ ! -e {} ] ; then echo {}; fi'",
    stdin="d1\nnope\nd2/z\nmissing\n",
    files=DIRS,
)
example(
    "Composed command with perl replacement string",
    "'mkdir -p {=s/(.).*/$1/=}; mv {} {=s/(.).*/$1/=}' ::: apple avocado",
    expect=f"differs: {PERL}",
)
example(
    "Composed command with multiple input sources",
    "[ -f {1}:{2} ] '||' echo {1}:{2} does not exist ::: 00 01 ::: 00 05 10",
    files={"00:05": "", "01:10": ""},
)
example(
    "Removing file extension when processing files",
    "'mkdir {.}; cd {.}; echo in {.} > f' ::: p.zip q.zip",
)
example(
    "Removing file extension when processing files",
    "\"zcat {} | gzip -1 >{.}.re.gz && rm {}\" ::: a.gz",
    files=GZ,
)
example(
    "Removing file extension when processing files",
    "cp {} mydir/{/.}.out",
    stdin="sounddir/a.wav\nsounddir/b.wav\n",
    files={"sounddir/a.wav": "a", "sounddir/b.wav": "b", "mydir/.keep": ""},
)
example(
    "Removing strings from the argument",
    "--plus 'mkdir {..}; echo {} > {..}/name' ::: foo.tar.gz",
    expect=f"agree: {PLUS}",
)
example(
    "Removing strings from the argument",
    "--plus echo {%_demo} ::: mycode_demo keep_demo_here",
    expect=f"agree: {PLUS}",
)
example(
    "Removing strings from the argument",
    "--plus echo {#demo_} ::: demo_mycode keep_demo_here",
    expect=f"agree: {PLUS}",
)
example(
    "Removing strings from the argument",
    "--plus echo {/demo_/} ::: demo_mycode remove_demo_here",
    expect=f"agree: {PLUS}",
)
example("Rewriting a for-loop and a while-read-loop", "echo do_something", stdin="a\nb\nc\n")
example(
    "Rewriting a for-loop and a while-read-loop",
    "\"echo step1 {} scale {.}.jpg ; cat <{}\"",
    stdin="p.txt\nq.txt\n",
    files={"p.txt": "P\n", "q.txt": "Q\n"},
)
example(
    "Rewriting a for-loop and a while-read-loop",
    "-P 100 echo host",
    stdin="a\nb\n",
    expect=f"agree: {ALIAS}",
)
example(
    "Rewriting nested for-loops",
    "echo do_something {1} {2} :::: xlist ylist",
    files={"xlist": "1\n2\n", "ylist": "a\nb\nc\n"},
)
example("Rewriting nested for-loops", "echo {1} {2} ::: red green blue ::: S M L XL XXL")
example(
    "Finding the lowest difference between files",
    "--tag 'diff {1} {2} | wc -l' ::: f1 f2 ::: f1 f2",
    files={"f1": "a\nb\n", "f2": "a\nc\n"},
)
example(
    "for-loops with column names",
    "--header : echo {colour} {size} ::: colour red green blue ::: size S M L XL XXL",
)
example(
    "for-loops with column names",
    "--colsep '\\t' --header : echo {Name} {E-mail address}",
    stdin="Name\tE-mail address\nOle\tole@example\n",
)
example(
    "All combinations in a list",
    "--plus echo {choose_k} ::: A B C D ::: A B C D",
    expect=f"unsupported: {PLUS_SKIP}",
)
example("All combinations in a list", "--plus echo {uniq} ::: A B C ::: A B C", expect=f"unsupported: {PLUS_SKIP}")
example(
    "From a to b and b to c",
    "echo {1} - {2} ::::+ head tail",
    files={"head": "aardvark\nbabble\n", "tail": "babble\ncab\n"},
    expect=f"agree: {LINK}",
)
example(
    "From a to b and b to c",
    "echo {1} - {2} ::: aardvark babble cab :::+ babble cab dab",
)
example(
    "Count the differences between all files in a dir",
    "--results diffcount 'diff -U 0 {1} {2} | tail -n +3 | grep -v \"^@\" | wc -l' ::: f1 f2 ::: f1 f2",
    files={"f1": "a\n", "f2": "b\n"},
    expect=f"agree: {RESULTS}",
)
example("Speeding up fast jobs", "touch pict{}.jpg", stdin="0\n1\n2\n3\n")
example("Speeding up fast jobs", "-X touch pict{}.jpg", stdin="0\n1\n2\n3\n")
example("Using shell variables", "echo ::: a b 'c d'")
example("Using shell variables", "-q echo 'the $VAR' ::: '!'", expect=f"agree: {QUOTE}")
example("Using shell variables", "echo '\"$HOME_NOT_SET\"' ::: '!'")
example("Using shell variables", "echo \"'$VAR'\" ::: '!'")
example("Group output lines", "-j2 'echo {}; sleep 0.{}; echo {} again' ::: 1 2 3")
example("Group output lines", "--line-buffer -j2 'echo {}; sleep 0.{}; echo {} again' ::: 1 2 3")
example("Tag output lines", "--tag 'echo {}; echo {} again' ::: 1 2 3")
example("Tag output lines", "--tag --line-buffer 'echo {}; echo {} again' ::: 1 2 3")
example("Keep order of output same as order of input", "-k 'sleep 0.{}; echo {}' ::: 3 2 1")
example("Keep order of output same as order of input", "-j4 -k 'sleep 0.{}; echo {}' ::: 3 1 2")
example(
    "Parallel grep",
    "-k grep -H -n needle {}",
    stdin="g1\ng2\n",
    files={"g1": "hay\nneedle\n", "g2": "needle too\nhay\n"},
)
example(
    "Parallel grep",
    "-m grep -H needle",
    stdin="g1\ng2\n",
    files={"g1": "needle\n", "g2": "needle\n"},
)
example(
    "Use multiple inputs in one command",
    "-N2 cp {1} {2}",
    stdin="a.es.txt\na.txt\n",
    files={"a.es.txt": "hola\n"},
)
example("Use multiple inputs in one command", "-k echo ::: 0 1 ::: 0 1 ::: 0 1 ::: 0 1")
example(
    "Use multiple inputs in one command",
    "--link -a s1 -a s2 echo",
    files={"s1": "1\n2\n3\n", "s2": "3\n2\n1\n"},
)
example(
    "Use multiple inputs in one command",
    "--link echo :::: s1 s2",
    files={"s1": "1\n2\n3\n", "s2": "3\n2\n1\n"},
)
example(
    "Use multiple inputs in one command",
    "convert {} {#}.png",
    stdin="./a\n./b\n",
    compare=("status",),
    expect="agree",
)
example(
    "Use a table as input",
    "-a table_file.tsv --colsep '\\t' echo cmd -o {2} -i {1}",
    files={"table_file.tsv": "foo\tbar\nbaz\tquux\n"},
)
example(
    "Run the same command 10 times",
    "-n0 echo my_command my_args",
    stdin="1\n2\n3\n",
)
example(
    "Working as cat | sh. Resource inexpensive jobs and evaluation",
    "-j 100",
    stdin="echo 1\necho 2\necho 3\n",
)
example(
    "Working as cat | sh. Resource inexpensive jobs and evaluation",
    "",
    stdin="echo a; echo b\ntrue\nexit 3\n",
)
example(
    "Processing a big file using more CPUs",
    "--pipe --block 10 wc -l",
    stdin="1\n2\n3\n4\n5\n6\n7\n8\n",
    expect=f"agree: {PIPE}",
)
example(
    "Processing a big file using more CPUs",
    "--pipepart -a num --block 10 wc -l",
    files={"num": "1\n2\n3\n4\n5\n6\n"},
    expect=f"agree: {PIPE}",
)
example("Grouping input lines", "--pipe -N2 wc -l", stdin="a\nb\nc\n", expect=f"agree: {PIPE}")
example(
    "GNU Parallel as dir processor",
    "-j1 'echo processing {}; rm {}'",
    stdin="in/a\nin/b\n",
    files={"in/a": "", "in/b": ""},
)

# ---------------------------------------------------------------------------
# man parallel: the options and their examples
# ---------------------------------------------------------------------------


def man(option, line, **kw):
    case(f"man: {option}", line, **kw)


man("::: arguments", "echo ::: a b c")
man("::: arguments", "-k echo {2} {1} ::: a b ::: 1 2")
man(":::: argfiles", "-k echo :::: f1 f2", files={"f1": "a\nb\n", "f2": "1\n2\n"})
man(":::: argfiles", "-k echo :::: f1 ::: x y", files={"f1": "a\nb\n"})
man("--arg-file", "-k -a f1 echo", files={"f1": "a\nb\n"})
man("--arg-file", "-k --arg-file f1 echo got", files={"f1": "a\nb\n"})
man("--arg-file", "-k -a f1 -a f2 echo {2}{1}", files={"f1": "a\nb\n", "f2": "1\n2\n"})
man("--arg-file", "-a missing echo")
man(":::: argfiles", "echo :::: missing")
man("{}", "-k echo {} {} ::: x y")
man("{.}", "-k echo {.} ::: a.b/c.d.e noext .hidden dir.d/file")
man("{/}", "-k echo {/} ::: /a/b/c a/ c")
man("{//}", "-k echo {//} ::: /a/b/c a/b c /x")
man("{/.}", "-k echo {/.} ::: /a/b.c/d.e.f x.y")
man("{#}", "-k echo {#} ::: a b c d e f g h i j k")
man("{#}", "-k echo {#} ::: 1 2 ::: 1 2")
man("{%}", "-j1 echo {%} {#} ::: a b c")
man("{n}", "-k echo {2} {1} {2} ::: a b ::: c d")
man("{n.}", "-k echo {1.} {2/} {2//} {1/.} ::: x.tar y.z ::: /p/q.r")
man("{n}", "-k echo {3} ::: a ::: b")
man("-0", "-0 -k echo", stdin="a b\0c\nd\0")
man("--null", "--null -k echo", stdin="x\0y\0")
man("-k", "-k 'sleep 0.{}; echo {}' ::: 3 1 2")
man("--keep-order", "--keep-order -j3 'sleep 0.{}; echo {}' ::: 2 1")
man("--tag", "--tag echo ::: a b")
man("--tag", "-k --tag 'echo {}; echo second' ::: a b")
man("--tag", "--tag echo {2} ::: a b ::: c d")
man("--dry-run", "--dry-run -k echo {} ::: 'a b' c")
man("--dry-run", "--dry-run -j1 'echo {}; false' ::: x 'y z'")
man("--dry-run", "--dry-run -k echo {1} {2} ::: a b ::: c d")
man("--dry-run", "--dry-run -k ::: 'echo one' 'echo two'")
man("--dry-run", "--dry-run -k --joblog log echo ::: a b")
man("--line-buffer", "--line-buffer -j2 'echo {}; echo {}{}' ::: a b")
man("--lb", "--lb echo ::: a b")
man("--linebuffer", "--linebuffer echo ::: a b", expect=f"agree: {ALIAS}")
man("--line-buffer", "-k --line-buffer echo ::: a b", expect=f"agree: {KEEP_LB}")
man("--jobs", "-j1 echo ::: a b c")
man("--jobs", "--jobs 2 echo ::: a b c")
man("--jobs", "-j 50% echo ::: a b c")
man("--max-procs", "--max-procs 2 echo ::: a b c", expect=f"agree: {ALIAS}")
man("-P", "-P 2 echo ::: a b c", expect=f"agree: {ALIAS}")
man("--joblog", "--joblog log -j1 echo ::: a b c")
man("--joblog", "--joblog log 'exit {}' ::: 0 1 2 3")
man("--joblog", "--joblog log -j1 'echo {}' ::: 'a b' \"c'd\" 'e\"f'")
man("--joblog", "--joblog log echo ::: a b", then=["--joblog log echo ::: c"])
man(
    "--joblog +FILE",
    "--joblog log echo ::: a b",
    then=["--joblog +log echo ::: c d"],
    expect=f"agree: {JOBLOG_APPEND}",
)
man("--joblog +FILE", "--joblog +log echo ::: a", expect=f"agree: {JOBLOG_APPEND}")
man("--jl", "--jl log echo ::: a", expect=f"agree: {ALIAS}")
man("--joblog -", "--joblog - echo ::: a", compare=("status",))
man("--joblog", "--joblog log 'kill -9 $$' ::: x", expect=f"agree: {SELF_KILL}")
man("--joblog", "--joblog log 'kill -TERM $$' ::: x", expect=f"agree: {SELF_KILL}")
man("--joblog", "--joblog log -k 'echo {}; exit {}' ::: 0 1 255")
man("--joblog", "--joblog log ::: 'echo a' 'exit 4' true")
man("--resume", "--joblog log -j1 echo ::: a b", then=["--resume --joblog log -j1 echo ::: a b c d"])
man("--resume", "--resume --joblog log -j1 echo ::: a b")
man(
    "--resume",
    "--joblog log -j1 'echo {}; exit {}' ::: 0 1",
    then=["--resume --joblog log -j1 'echo {}; exit {}' ::: 0 1 2"],
)
man("--resume", "--joblog log echo ::: a b", then=["--resume --joblog log echo ::: a b"])
man(
    "--resume",
    "--joblog log -j1 echo ::: a b",
    then=["--resume --joblog log -j1 echo ::: x y z"],
    expect=f"differs: {RESUME_CHANGED}",
)
man(
    "--resume",
    "--resume --joblog log -j1 echo ::: a b c",
    files={"log": LOG_HEADER + "2\t:\t1700000000.000\t0.001\t0\t2\t0\t0\techo b\n"},
)
man(
    "--resume-failed",
    "--resume-failed --joblog log -j1 'echo {}; exit {}' ::: 0 1 2",
    files={"log": LOG_HEADER + "1\t:\t1700000000.000\t0.001\t0\t2\t0\t0\techo 0; exit 0\n2\t:\t1700000000.000\t0.001\t0\t2\t1\t0\techo 1; exit 1\n"},
)
man(
    "--resume-failed",
    "--joblog log -j1 'exit {}' ::: 0 1 2",
    then=["--resume-failed --joblog log -j1 'echo fixed {}' ::: 0 1 2"],
    expect=f"agree: {RESUME_FAILED}",
)
man(
    "--resume-failed",
    "--joblog log -j1 'echo {}; exit {}' ::: 0 1 2",
    then=["--resume-failed --joblog log -j1 'echo {}; exit {}' ::: 0 1 2"],
)
man(
    "--resume-failed",
    "--joblog log -j1 'exit {}' ::: 0 1",
    then=["--resume-failed --joblog log -j1 'exit {}' ::: 0 1 0 0"],
)
man("--halt", "-j1 --halt now,fail=1 'echo {}; exit {}' ::: 0 3 0")
man("--halt", "-j1 --halt soon,fail=1 'echo {}; exit {}' ::: 0 3 0")
man("--halt", "-j1 --halt now,fail=2 'echo {}; exit {}' ::: 1 0 2 0 3")
man("--halt", "-j1 --halt soon,fail=50% 'echo {}; exit {}' ::: 1 0 2 0")
man("--halt", "-j1 --halt now,success=1 'echo {}; exit {}' ::: 1 0 2")
man("--halt", "-j1 --halt now,success=50% 'echo {}; exit {}' ::: 0 1 0 1")
man("--halt", "-j1 --halt now,done=1 'echo {}; exit {}' ::: 5 0", expect=f"agree: {HALT_STATUS}")
man("--halt", "-j1 --halt never 'echo {}; exit {}' ::: 0 1 2")
man("--halt", "-j1 --halt 1 'echo {}; exit {}' ::: 0 1 2")
man("--halt", "-j1 --halt 2 'echo {}; exit {}' ::: 0 1 2")
man("--halt", "-j1 --joblog log --halt now,fail=1 'echo {}; exit {}' ::: 0 1 0")
man("--halt-on-error", "-j1 --halt-on-error 2 'echo {}; exit {}' ::: 0 1 2", expect=f"agree: {ALIAS}")
man("--halt", "-j2 --halt now,fail=1 'sleep {}; exit 1' ::: 0.1 5", expect="agree")
man("--timeout", "--timeout 1 'sleep {}; echo {}' ::: 0.1 10")
man("--timeout", "--joblog log --timeout 1 'sleep {}' ::: 10")
man("--timeout", "--timeout 1s 'sleep {}; echo done' ::: 0.1")
man("--retries", "-j1 --retries 3 'echo {} >> tries; exit 1' ::: a")
man("--retries", "-j1 --joblog log --retries 2 'echo {}; exit {}' ::: 0 1")
man("--retries", "-j1 --retries 2 'if [ -e flag ]; then echo ok; else touch flag; exit 1; fi' ::: x")
man("--delay", "--delay 0.05 -j1 echo ::: a b c")
man("--delay", "--delay 0.05s -j1 echo ::: a b")
man("--term-seq", "--term-seq INT,200,TERM,100,KILL,25 --timeout 1 'sleep {}' ::: 10")
man("--bar", "--bar -j1 echo ::: a b")
man("--eta", "--eta -j1 echo ::: a b")
man("--version", "--version", compare=("status",))
man("--help", "--help", compare=("status",))
man("-h", "-h", compare=("status",))
man("exit status", "-j1 'exit {}' ::: 0 0")
man("exit status", "'exit {}' ::: 1 2 3")
man("exit status", "-j1 'exit {}' ::: 0 1 0 1 0")
man("exit status", "false ::: " + " ".join(str(n) for n in range(101)))
man("exit status", "false ::: " + " ".join(str(n) for n in range(102)))
man("exit status", "--no-such-option echo ::: a", compare=("status", "files"))
man("exit status", "'kill -9 $$' ::: a")
man("exit status", "'kill -TERM $$' ::: a b")
man("exit status", "'exit 255' ::: a")
man("exit status", "-j1 'exit {}' ::: 200 1")
man("input", "echo", stdin="")
man("input", "echo ::: ")
man("input", "-k echo", stdin="a\n\nb\n")
man("input", "-k echo", stdin="no newline at end")
man("input", "-k echo", stdin="with spaces  inside \n tabs\there\n")
man("input", "-k echo", stdin="a\r\nb\r\n")
man("input", "-k echo {}x", stdin="'single' \"double\" $dollar `back` \\slash\n")
man("input", "-k echo ::: '*' '$HOME' ';ls' '&&' '|' '>x'")
man("input", "-k 'echo {}' ::: '$(echo injected)' '`echo back`' 'a;b'")
man("input", "-k --joblog log echo {} ::: 'a\nb'", expect=f"agree: {NEWLINE}")
man("input", "-k echo ::: ä ö ü ∂")
man("command", "-k 'echo {} | tr a-z A-Z' ::: abc def")
man("command", "-k 'echo {}' '>' {}.out ::: a b")
man("command", "-k echo '{}' '\"{}\"' ::: x")
man("command", "-k sh -c 'echo $0' ::: a b")
man("command", "-k printf '%s|%s\\n' {} {} ::: p q")
man("command", "-k test -d {} '&&' echo dir {} ::: . nope")
man("command", "-k ::: 'echo a' 'echo b && echo c'")
man("command", "-k", stdin="echo 1; echo 2\necho 3 | tr 3 x\n")
man("--colsep", "--colsep , echo {2} {1} ::: a,b c,d")
man("-C", "-C ' ' -k echo {2}-{1} ::: 'a b' 'c d'")
man("--max-args", "--max-args 2 -k echo ::: a b c d e")
man("-n", "-n 2 -k echo ::: a b c d e")
man("-N", "-N 2 -k echo {1}+{2} ::: a b c d")
man("-L", "-L 2 -k echo", stdin="a\nb\nc\n")
man("--max-lines", "--max-lines 2 -k echo", stdin="a\nb\nc\n")
man("-X", "-X -j1 echo x{}y ::: a b c")
man("-m", "-m -j1 echo x{}y ::: a b c")
man("--xargs", "--xargs -j1 echo ::: a b c")
man("--link", "--link -k echo {1}{2} ::: a b c ::: 1 2 3")
man("--xapply", "--xapply -k echo {1}{2} ::: a b ::: 1 2")
man("--header", "--header : -k echo {x} ::: x 1 2")
man("-d", "-d , -k echo", stdin="a,b,c")
man("--delimiter", "--delimiter '\\t' -k echo", stdin="a\tb")
man("-E", "-E stop -k echo", stdin="a\nstop\nb\n")
man("--shuf", "--shuf echo ::: a b c")
man("--block", "--pipe --block 4 -k 'echo $PARALLEL_SEQ; cat'", stdin="1\n2\n3\n4\n5\n6\n7\n8\n9\n10\n11\n12\n", expect=f"agree: {PIPE}")
man("--block-size", "--pipe --block-size 1k -k wc -c", stdin="1\n2\n3\n4\n5\n6\n7\n8\n9\n10\n11\n12\n13\n14\n15\n16\n17\n18\n19\n20\n21\n22\n23\n24\n25\n26\n27\n28\n29\n30\n31\n32\n33\n34\n35\n36\n37\n38\n39\n40\n41\n42\n43\n44\n45\n46\n47\n48\n49\n50\n51\n52\n53\n54\n55\n56\n57\n58\n59\n60\n61\n62\n63\n64\n65\n66\n67\n68\n69\n70\n71\n72\n73\n74\n75\n76\n77\n78\n79\n80\n81\n82\n83\n84\n85\n86\n87\n88\n89\n90\n91\n92\n93\n94\n95\n96\n97\n98\n99\n100\n" * 10, expect=f"agree: {PIPE}")
man("--block", "--pipe --block 3 -k 'cat; echo ---'", stdin="abcdefgh\nij\nklmnopqrstuvwxyz\n", compare=("stdout", "status", "joblog"), expect=f"agree: {PIPE}")
man("--recstart", "--pipe --recstart '>' --block 4 -k 'cat; echo ---'", stdin=">a\nb\n>c\n>d\ne\n", expect=f"agree: {PIPE}")
man("--recend", "--pipe --recend '\\n\\n' --block 3 -k 'cat; echo ---'", stdin="a\nb\n\nc\n\nd\n", expect=f"agree: {PIPE}")
man("--recstart --recend", "--pipe --recstart '>' --recend '\\n' --block 6 -k 'cat; echo ---'", stdin=">a\nx>b\n>c\n", expect=f"agree: {PIPE}")
man("--recend ''", "--pipe --recend '' --block 3 -k 'cat; echo'", stdin="abcdefgh", expect=f"agree: {PIPE}")
man("--regexp", "--pipe --regexp --recend '[05]\\n' --block 5 -k 'cat; echo ---'", stdin="1\n2\n3\n4\n5\n6\n7\n8\n9\n10\n11\n12\n", expect=f"agree: {PIPE}")
man("-N", "--pipe -N3 -k 'cat; echo ---'", stdin="1\n2\n3\n4\n5\n6\n7\n8\n9\n10\n11\n12\n", expect=f"agree: {PIPE}")
man("-N", "--pipe -N1 -k 'cat; echo ---'", stdin="a\n\nb\n", expect=f"agree: {PIPE}")
man("--pipepart", "--pipepart -a f --block 50 -k 'echo $PARALLEL_SEQ; wc -c'", files={"f": "1\n2\n3\n4\n5\n6\n7\n8\n9\n10\n11\n12\n13\n14\n15\n16\n17\n18\n19\n20\n21\n22\n23\n24\n25\n26\n27\n28\n29\n30\n31\n32\n33\n34\n35\n36\n37\n38\n39\n40\n41\n42\n43\n44\n45\n46\n47\n48\n49\n50\n51\n52\n53\n54\n55\n56\n57\n58\n59\n60\n61\n62\n63\n64\n65\n66\n67\n68\n69\n70\n71\n72\n73\n74\n75\n76\n77\n78\n79\n80\n81\n82\n83\n84\n85\n86\n87\n88\n89\n90\n91\n92\n93\n94\n95\n96\n97\n98\n99\n100\n"}, expect=f"agree: {PIPE}")
man("--pipe-part", "--pipe-part -a f --block -2 -j2 -k wc -l", files={"f": "1\n2\n3\n4\n5\n6\n7\n8\n9\n10\n11\n12\n13\n14\n15\n16\n17\n18\n19\n20\n21\n22\n23\n24\n25\n26\n27\n28\n29\n30\n31\n32\n33\n34\n35\n36\n37\n38\n39\n40\n41\n42\n43\n44\n45\n46\n47\n48\n49\n50\n51\n52\n53\n54\n55\n56\n57\n58\n59\n60\n61\n62\n63\n64\n65\n66\n67\n68\n69\n70\n71\n72\n73\n74\n75\n76\n77\n78\n79\n80\n81\n82\n83\n84\n85\n86\n87\n88\n89\n90\n91\n92\n93\n94\n95\n96\n97\n98\n99\n100\n"}, expect=f"agree: {PIPE}")
man("--pipepart", "--pipepart -a f -j3 -k wc -l", files={"f": "1\n2\n3\n4\n5\n6\n7\n8\n9\n10\n11\n12\n13\n14\n15\n16\n17\n18\n19\n20\n21\n22\n23\n24\n25\n26\n27\n28\n29\n30\n31\n32\n33\n34\n35\n36\n37\n38\n39\n40\n41\n42\n43\n44\n45\n46\n47\n48\n49\n50\n51\n52\n53\n54\n55\n56\n57\n58\n59\n60\n61\n62\n63\n64\n65\n66\n67\n68\n69\n70\n71\n72\n73\n74\n75\n76\n77\n78\n79\n80\n81\n82\n83\n84\n85\n86\n87\n88\n89\n90\n91\n92\n93\n94\n95\n96\n97\n98\n99\n100\n"}, expect=f"agree: {PIPE}")
man("--pipepart", "--pipepart -a f --recstart 5 --block 30 -k 'cat; echo ---'", files={"f": "1\n2\n3\n4\n5\n6\n7\n8\n9\n10\n11\n12\n13\n14\n15\n16\n17\n18\n19\n20\n21\n22\n23\n24\n25\n26\n27\n28\n29\n30\n31\n32\n33\n34\n35\n36\n37\n38\n39\n40\n41\n42\n43\n44\n45\n46\n47\n48\n49\n50\n51\n52\n53\n54\n55\n56\n57\n58\n59\n60\n61\n62\n63\n64\n65\n66\n67\n68\n69\n70\n71\n72\n73\n74\n75\n76\n77\n78\n79\n80\n81\n82\n83\n84\n85\n86\n87\n88\n89\n90\n91\n92\n93\n94\n95\n96\n97\n98\n99\n100\n"}, expect=f"agree: {PIPE}")
man("--pipepart", "--pipepart -a f --regexp --recend '9.' --block 100 -k wc -c", files={"f": "1\n2\n3\n4\n5\n6\n7\n8\n9\n10\n11\n12\n13\n14\n15\n16\n17\n18\n19\n20\n21\n22\n23\n24\n25\n26\n27\n28\n29\n30\n31\n32\n33\n34\n35\n36\n37\n38\n39\n40\n41\n42\n43\n44\n45\n46\n47\n48\n49\n50\n51\n52\n53\n54\n55\n56\n57\n58\n59\n60\n61\n62\n63\n64\n65\n66\n67\n68\n69\n70\n71\n72\n73\n74\n75\n76\n77\n78\n79\n80\n81\n82\n83\n84\n85\n86\n87\n88\n89\n90\n91\n92\n93\n94\n95\n96\n97\n98\n99\n100\n"}, expect=f"agree: {PIPE}")
man("--pipe", "--pipe --block 2 -j1 --joblog log 'grep -q 2'", stdin="1\n2\n3\n", expect=f"agree: {PIPE}")
man("--pipe", "--pipe --block 2 -j1 --halt now,fail=1 'grep -q 1'", stdin="1\n2\n3\n", expect=f"agree: {PIPE}")
# (The job reads its chunk: GNU exits 1 now and then when a job exits
# before GNU has written its chunk to it.)
man("--pipe", "--pipe -k 'cat > /dev/null; echo x{}y'", stdin="a\nb\n", expect=f"agree: {PIPE}")
man("--pipe", "--pipe --block 2 wc -l", stdin="1\n2\n3\n4\n5\n6\n7\n8\n9\n10\n11\n12\n", expect=f"agree: {PIPE}")
man("--spreadstdin", "--spreadstdin -k wc -l", stdin="a\nb\n", expect=f"agree: {PIPE}")
man("-I", "-I XX -k echo XX-XX ::: a b", expect=f"agree: {REPLACE}")
man("--replace", "--replace=XX -k echo XX ::: a", expect=f"agree: {REPLACE}")
man("--plus", "--plus -k echo {%.c} {..} ::: a.b.c", expect=f"agree: {PLUS}")
man("--results", "--results res echo ::: a b", expect=f"agree: {RESULTS}")
man("--results", "--results res 'printf \"%s\\n\" {}; printf e%s {} >&2; exit 2' ::: a 'x/y' '' 'b\\c' ::: 1", expect=f"agree: {RESULTS}")
man("--results", "--header : --results foo echo {a} {b} ::: a I II ::: b III IIII", expect=f"agree: {RESULTS}")
man("--results", "--results foo echo {1} {2} ::: I II ::: III IIII", expect=f"agree: {RESULTS}")
man("--results", "--results my_{} echo ::: foo bar baz", expect=f"agree: {RESULTS}")
man("--results", "--results my_{}/ echo ::: foo bar baz", expect=f"agree: {RESULTS}")
man("--results", "-N2 --results res echo ::: a b c", expect=f"agree: {RESULTS}")
man("--results", "--results res.csv echo ::: a", expect=f"unsupported: {RESULTS}")
man("--tagstring", "--tagstring 'T{}' echo ::: a", expect=f"agree: {TAGSTRING}")
man("-u", "-u -j1 echo ::: a b", expect=f"agree: {UNGROUP}")
man("--ungroup", "--ungroup -j1 echo ::: a b", expect=f"agree: {UNGROUP}")
man("-v", "-v -j1 echo ::: a b", expect=f"agree: {VERBOSE}")
man("-q", "-q -k echo '$a' ::: b", expect=f"agree: {QUOTE}")
man("--quote", "--quote -k sh -c 'echo $0' ::: c", expect=f"agree: {QUOTE}")
man("--pipe", "--pipe -k wc -l", stdin="a\nb\n", expect=f"agree: {PIPE}")
man("--pipepart", "--pipepart -a f -k wc -l", files={"f": "a\nb\n"}, expect=f"agree: {PIPE}")
man("--block", "--pipe --block 2 -k cat", stdin="a\nb\n", expect=f"agree: {PIPE}")
man("--retry-failed", "--retry-failed --joblog log", files={"log": ""}, expect=f"agree: {RETRY_FAILED}")
man(
    "--retry-failed",
    "-k --joblog log 'echo {}; exit {}' ::: 1 0 2 0",
    then=["-k --retry-failed --joblog log", "--retry-failed --joblog log echo ::: x y"],
    expect=f"agree: {RETRY_FAILED}",
)
man(
    "--retry-failed",
    "--retry-failed --joblog log echo ::: ignored",
    files={"log": LOG_HEADER + "3\t:\t1.0\t0.1\t0\t0\t1\t0\techo three\n"},
    expect=f"agree: {RETRY_FAILED}",
)
man("--retry-failed", "--retry-failed --joblog log echo ::: a b", expect=f"agree: {RETRY_FAILED}")
man("--nice", "--nice 5 echo ::: a", expect=f"agree: {NICE}")
man("--nice", "--nice 5 'nice; true' ::: a", expect=f"agree: {NICE}")
man("--nice", "--nice 50 -k 'nice; echo {}' ::: a b", expect=f"agree: {NICE}")
man("--nice", "--nice x echo ::: a", compare=("status",), expect=f"agree: {NICE}")
man("--load", "--load 1000 echo ::: a", expect=f"agree: {LOAD}")
man("--load", "--load +1000 -k echo ::: a b", expect=f"agree: {LOAD}")
man("--load", "--load 2x echo ::: a", compare=("status",), expect=f"agree: {LOAD}")
man("--memfree", "--memfree 1M echo ::: a", expect=f"agree: {LOAD}")
man("--memfree", "--memfree 100k -k echo ::: a b", expect=f"agree: {LOAD}")
man("--progress", "--progress echo ::: a", expect=f"agree: {PROGRESS}")
man("--env", "--env FOO echo ::: a", expect=f"agree: {REFUSE}")
man("--env", "--env FOO --env BAR,BAZ 'echo x$NOT_SET_G16F' ::: a", expect=f"agree: {REFUSE}")
man("--sshlogin", "--sshlogin server echo ::: a", expect=f"unsupported: {REFUSE}")
man("-S", "-S server echo ::: a", expect=f"unsupported: {REFUSE}")
man("--wd", "--wd .. echo ::: a", expect=f"agree: {LOCAL}")
man("--tmpdir", "--tmpdir . echo ::: a", expect=f"agree: {LOCAL}")
man("--compress", "--compress echo ::: a", expect=f"agree: {LOCAL}")
man("--group", "--group echo ::: a", expect=f"agree: {REFUSE}")
man("--no-notice", "--no-notice echo ::: a", expect=f"agree: {REFUSE}")
man("--will-cite", "--will-cite echo ::: a", expect=f"agree: {REFUSE}")
man("--verbose", "-t echo ::: a", expect=f"agree: {VERBOSE}")
man("--retries", "--retries 1 -j1 'exit 1' ::: a")
man("--ll", "--ll echo ::: a", expect=f"unsupported: {REFUSE}")

# ---------------------------------------------------------------------------
# GNU parallel's testsuite/tests-to-run (adapted: relative files, -j1 where
# the order of the jobs decides the answer, short sleeps)
# ---------------------------------------------------------------------------


def test(file, line, **kw):
    case(f"tests: {file}", line, **kw)


T03 = "parallel-local-0.3s.sh"
test(T03, "echo Warnings are ::: OK")
test(T03, "-k -E ole echo ::: foo ole bar")
test(T03, "-k -r echo ::: foo '' ole bar", expect=f"agree: {LOCAL}")
test(T03, "-k 'sleep 0.01; echo {}a'", stdin="a\nb\nc\n")
test(T03, "-k -d '\\r\\n' echo {}a", stdin="b\r\nc\r\nd\r\n", expect=f"agree: {DELIMITER}")
test(T03, "-k echo {}a", stdin="b\r\nc\nd\r\ne\r\n")
test(
    T03,
    "-k --resume --joblog log echo job{}id\\;exit {} ::: 0 1 2 3 0 5",
    then=["-k --resume --joblog log echo job{}id\\;exit {} ::: 0 1 2 3 0 5", "-k --resume --joblog log echo job{}id\\;exit 0 ::: 0 1 2 3 0 5 6 7"],
    expect=f"differs: {RESUME_CHANGED}",
)
test(
    T03,
    "-k --resume --joblog log echo job{}id\\;exit {} ::: 0 1 2 3 0 5",
    then=["-k --resume --joblog log echo job{}id\\;exit {} ::: 0 1 2 3 0 5"],
)
test(T03, "--dnr II -k echo II {} ::: a a/b a/b/c", expect=f"agree: {REPLACE}")
test(T03, "--dirnamereplace II -k echo II {} ::: a a/b a/b/c", expect=f"agree: {REPLACE}")
test(T03, "-X -j1 -N 6 echo {-1}orrec{1} ::: t B X D E c")
test(T03, "-N 6 echo {-1}orrect ::: A B X D E c")
test(
    T03,
    "--colsep ' ' echo '{2} + {4} = {2} + {-1}=' '$(( {2} + {-1} ))' ::: '1 2 3 4'",
)
test(T03, "-k echo {} {.}", stdin="a.b\nc\n.d\ne.f.g\n/h.i/j\n")
test(T03, "-j1 -I :: -X echo 'a::b::^c::[.}c'", stdin="1\n2\n3\n", expect=f"agree: {REPLACE}")
test(T03, "-k -i -eEND echo repl{.}ce", stdin="a\nEND\nb\n", expect=f"agree: {LOCAL}")
test(T03, "-k --replace -eEND echo repl{.}ce", stdin="a\nEND\nb\n", expect=f"agree: {LOCAL}")
test(T03, "-k echo ::: 1 2 3 -- a b c")
test(T03, "--header : echo {B} {A}", stdin="A\tB\n1\tone")
test(T03, "-k echo {#} ::: 1 2 ::: 1 2")
test(T03, "--dryrun --joblog - echo ::: Only_this", expect=f"agree: {ALIAS}")
test(T03, "--dry-run --joblog - echo ::: Only_this", compare=("stdout", "status"))
test(T03, "-k --max-procs +0 echo max proc", stdin="1\n2\n3\n", expect=f"agree: {ALIAS}")
test(T03, "-k -P 200% echo 200% proc", stdin="1\n2\n3\n", expect=f"agree: {ALIAS}")
test(T03, "-k -j +0 echo max proc", stdin="1\n2\n3\n")
test(T03, "-k --max-chars 25 -X echo", stdin="line 1\nline 1\nline 2\n")
test(T03, "-r echo", stdin="  \n", expect=f"agree: {LOCAL}")
test(T03, "-k -n0 echo n0", stdin="1\n2\n")
test(T03, "-k -L0 echo L0", stdin="1\n2\n")
test(T03, "-k -N0 echo N0", stdin="1\n2\n")
test(T03, "-k -N0 echo args on cmdline ::: 1 2")
test(T03, "-k -d N echo This is", stdin="line 1Nline 2Nline 3\n")
test(T03, "-k -d '\\0' echo", stdin="delimiter NUL line 1\0line 2\0line 3")
test(T03, "-k -a argfile echo", files={"argfile": "a\nb\nc\n"})
test(T03, "-k --arg-file argfile echo", files={"argfile": "a\nb\nc\n"})
test(T03, "-kq echo {#} ::: a b", expect=f"agree: {QUOTE}")
test(T03, "echo empty input line", stdin="\n")
test(
    T03,
    "-j1 --joblog log --halt now,fail=1 'echo {#}; exit {}' ::: 0 0 0 1 0 0",
    then=["-j1 --joblog log --halt now,fail=1 --resume 'echo {#}; exit {}' ::: 0 0 0 1 0 0"],
)
test(T03, "--xapply 'echo {1} {#} {2}' ::: a ::: b")
test(T03, "-k echo ::: a b c aWRAP :::+ aa bb cc ::: A B :::+ AA BB AAwrap")
test(T03, "--halt now,fail=1 true", stdin="1\n2\n3\n")
test(T03, "-k -N 10 echo a{}b", stdin="".join(f"{n}\n" for n in range(1, 20)))
test(T03, "-k -L 10 echo a{}b", stdin="".join(f"{n}\n" for n in range(1, 20)))
test(T03, "--colsep , echo {1}{3}{2}", stdin="A,B,,\n")
test(
    T03,
    "-k echo :::: s1 s2 :::+ a b c ::: aa bb cc",
    files={"s1": "1\n2\n3\n", "s2": "21\n22\n23\n"},
)
test(T03, "echo ::: true")
test(T03, "-k", stdin="echo a\n\necho b\n")
test(T03, "--joblog log echo ::: 1", then=["--joblog +log echo ::: 1"], expect=f"agree: {JOBLOG_APPEND}")
test(T03, "-k --jl log echo ::: 1 2 3", expect=f"agree: {ALIAS}")
test(T03, "echo", stdin="0")
test(T03, "-j1 --halt now,fail=1 'echo {#};exit {}' ::: 0 1 0")
test(T03, "-j1 --halt now,fail=1 'echo {#};exit {}' ::: 1 0 1")
test(T03, "-j1 --halt soon,fail=1 'echo {#};exit {}' ::: 0 1 0")
test(T03, "-j1 --halt soon,fail=1 'echo {#};exit {}' ::: 1 0 1")
test(T03, "seq", stdin="3\n")
test(T03, "ls", stdin="nOfilE\n")
test(
    T03,
    "-k echo ::::+ s1 s2 s3",
    files={"s1": "1\n2\n3\n4\n", "s2": "1\n2\n3\n", "s3": "1\n2\n3\n4\n"},
    expect=f"agree: {LINK}",
)
test(T03, "-k --results dir echo ::: a b c", expect=f"agree: {RESULTS}")
test(T03, "-v", stdin="\n", expect=f"agree: {VERBOSE}")
test(T03, "--shuf echo", stdin="")
test(T03, "-j1 --retries 3 'echo {/} >> runs; exit {/}' ::: 1/11 2/22 3/33")
test(T03, "--wd . 'echo ok' ::: OK", expect=f"agree: {LOCAL}")
T1 = "parallel-local-1s.sh"
test(T1, "-j1 -k -v --tagstring a{}b echo ::: 3 4", expect=f"agree: {VERBOSE}")
test(T1, "-v echo ::: '>'", expect=f"agree: {VERBOSE}")
test(T1, "-X -j1 echo ::: '>' 2")
test(T1, "", stdin="echo | wc -l\n")
test(T1, "-k ::: 'echo a b c | wc -w' 'echo a b | wc -w'")
test(T1, "-k ::: 'sleep 0.3; echo 1' 'echo 2' 'echo 3' 'echo 4' 'echo 5'")
test(T1, "-kj 1 ::: 'sleep 0.1; echo 1' 'echo 2' 'echo 3'")
test(T1, "-k echo ::: a b")
test(T1, "-k ::: 'echo a' 'echo b'")
test(T1, "--arg-sep .--- -k .--- 'echo a' 'echo b'", expect=f"agree: {LOCAL}")
test(T1, "-k ::: cat 'echo b'", stdin="via cat\n")
test(T1, "-B foo", expect=f"unsupported: {RETIRED}")
test(T1, "-g", expect=f"unsupported: {RETIRED}")
test(T1, "-k echo {1} :::: f3 f2 f1", files={"f1": "1\n", "f2": "2\n", "f3": "3\n"})
test(T1, "-k -N2 echo {1} {2}", stdin="1\n2\n")
test(T1, "-k -C %+ echo '\"{1}_{3}_{2}_{4}\"' ::: 'a% c %%b' 'a%c% b %d'")
test(T1, "-k --basenamereplace FOO echo FOO ::: /a/b.c a/b.c b.c /a/b a/b b", expect=f"agree: {REPLACE}")
test(T1, "-k --extensionreplace FOO echo FOO ::: /a/b.c a/b.c b.c /a/b a/b b", expect=f"agree: {REPLACE}")
test(T1, "-k echo {/} {.} {/.} {//} ::: /a/b.c a/b.c b.c /a/b a/b b")
test(
    T1,
    "--jl - 'false \"command with quotes\"' ::: 1",
    # (the log's times differ from run to run: tests/unit/run/joblog_test.cpp
    # checks the lines on standard output)
    compare=("status",),
    expect=f"agree: {JOBLOG_STDOUT}",
)
T3 = "parallel-local-3s.sh"
test(T3, "'echo {} > {}' ::: 1 2 3")
test(T3, "-k --plus echo {} = {+/}/{/} = {.}.{+.} ::: a/b.c.d", expect=f"agree: {PLUS}")
test(T3, "--plus echo {#z.*z.} ::: z.z.z.foo", expect=f"agree: {PLUS}")
test(T3, "--plus echo {%.z.z} ::: foo.z.z.z", expect=f"agree: {PLUS}")
test(T3, "-k 'echo {} | wc -w' ::: a 'b c'")
test(T3, "-k -a f1 -a f2 -a f3 echo", files={"f1": "1\n2\n", "f2": "a\n", "f3": "x\ny\n"})
test(T3, "-k echo :::: f1 f2 f3", files={"f1": "1\n2\n", "f2": "a\n", "f3": "x\ny\n"})
T10 = "parallel-local-10s.sh"
test(T10, "-k -l echo {} OK", stdin="1\n2\n3\n", expect=f"agree: {MAX_LINES}")
test(T10, "-k -l 2 echo {} OK", stdin="1\n2\n3\n", expect=f"agree: {MAX_LINES}")
test(T10, "-k -l 0 echo {} OK", stdin="1\n2\n3\n", expect=f"agree: {MAX_LINES}")
test(T10, "-k -0 echo {} OK", stdin="1\0002\0003\000")
test(T10, "-k -0 -i repl echo repl OK", stdin="1\0002\000", expect=f"agree: {REPLACE}")
test(T10, "--colsep % echo {1} {3} {2}", stdin="a%c%b\n")
test(T10, "-k --colsep '\\t' echo {2} {1}", stdin="def\tabc\njkl\tghi")
test(
    T10,
    "--xapply -k -a f1 -a f2 echo {2} {1}",
    files={"f1": "ghi\npqr\n", "f2": "abc\tdef\njkl\tmno\n"},
)
test(T10, "--dry-run --timeout 1.4m -j 10 echo", stdin="1\n2\n3\n")
T4 = "parallel-local4.sh"
test(T4, "--joblog - true", stdin="1\n", compare=("status",))
test(T4, "-s 29 -X -kj1 echo a{}b{}c", stdin="1\n2\n3\n4\n")
test(T4, "-s 23 -m -kj1 echo a{}b{}c", stdin="1\n2\n3\n4\n")
T5 = "parallel-local5.sh"
test(T5, "-k --tagstring 'a\\tb' echo ::: c", expect=f"agree: {TAGSTRING}")
test(T5, "-k -d '\"' echo ::: 'a\"b'")

# ---------------------------------------------------------------------------
# The replacement-string options, --plus, --tagstring, -v, -t, -q, -u: what
# man parallel and parallel_tutorial say of each, one case per point
# ---------------------------------------------------------------------------
man("-I", "-I XX -k echo XX {} {1} {1/} ::: a/b.c", expect=f"agree: {REPLACE}")
man("-I", "-I {a} -k echo {a} {1a} {1} ::: x y", expect=f"agree: {REPLACE}")
man("-I", "-I aa -k echo aaa ::: X", expect=f"agree: {REPLACE}")
man("-I", "-k -I ,, echo ,, ::: 'a b' 'c;d'", expect=f"agree: {REPLACE}")
man("--replace", "--replace -k echo {} ::: a b", expect=f"agree: {REPLACE}")
man("--replace", "-k -i echo {} ::: a", expect=f"agree: {REPLACE}")
man("--replace", "-k -i -E END echo repl{.}ce", stdin="a\nEND\nb\n", expect=f"agree: {REPLACE}")
man("--replace", "-k --replace -E END echo repl{.}ce", stdin="a\nEND\nb\n", expect=f"agree: {REPLACE}")
man("--extensionreplace", "--er XX -k echo XX {.} {1.} ::: a/b.c", expect=f"agree: {REPLACE}")
man("--extensionreplace", "--er '{}x' -k echo '{}x' {} ::: a.b", expect=f"agree: {REPLACE}")
man("--basenamereplace", "--bnr XX -k echo XX {/} {1/} ::: a/b.c", expect=f"agree: {REPLACE}")
man("--dirnamereplace", "--dnr XX -k echo XX {//} {1//} ::: a/b.c", expect=f"agree: {REPLACE}")
man("--basenameextensionreplace", "--bner XX -k echo XX {/.} {1/.} ::: a/b.c", expect=f"agree: {REPLACE}")
man("--seqreplace", "--seqreplace XX -k echo XX {#} ::: a b", expect=f"agree: {REPLACE}")
man("--slotreplace", "-j1 --slotreplace XX echo XX {%} ::: a b", expect=f"agree: {REPLACE}")
man("{n}", "-k echo '{1 .}' '{1 }' {0} {01} {-0}x {1#} ::: a.b", expect=f"agree: {REPLACE}")
man("--plus", "--plus -k echo {:2:3} {:2} {:-z} {:9} ::: abcdef '' 0", expect=f"agree: {PLUS}")
man("--plus", "--plus -k echo {##} {0#} {#} ::: a b c d e f g h i j k", expect=f"agree: {PLUS}")
man("--plus", "--plus -k echo {#}/{##}", stdin="a\nb\nc\n", expect=f"agree: {PLUS}")
man("--plus", "--plus -j1 echo {0%} {slot} {%} ::: a b", expect=f"agree: {PLUS}")
man("--plus", "--plus -k echo {1..} {-1+..} {2/...} {2+/} ::: a/b.c.d.e ::: x/y.z", expect=f"agree: {PLUS}")
man("--plus", "--plus -k echo {^^b} {,,B} {^a} {,A} ::: abAB", expect=f"agree: {PLUS}")
man("--plus", "--plus -k echo {//b/X} {/#a/Y} {/%B/Z} {/a/} ::: abab aBaB", expect=f"agree: {PLUS}")
man("--plus", "--plus -k echo {##a*} {#a*} {%%b*} {%b*} ::: aabbaabb", expect=f"agree: {PLUS}")
man("--plus", "--plus -k echo {..} {...} {/..} {+.} {+..} ::: a .a a/.b.c", expect=f"agree: {PLUS}")
man("--plus", "--plus -k 'echo {1%.*} > {1..}.out' ::: x.tar.gz", expect=f"agree: {PLUS}")
man("--plus", "--plus -k -N2 echo {..} {2+.} ::: a.b.c d.e.f", expect=f"agree: {PLUS}")
man("--plus", "--plus echo {host} ::: a", expect=f"unsupported: {PLUS_REMOTE}")
man("--tagstring", "-k --tagstring '{#}:{1}-{2}' echo ::: a b ::: c", expect=f"agree: {TAGSTRING}")
man("--tagstring", "-k --tag --tagstring 'x\\ty\\101' echo ::: a", expect=f"agree: {TAGSTRING}")
man("--tagstring", "-k --line-buffer --tagstring '{}!' 'echo 1; echo 2' ::: a b", expect=f"agree: {TAGSTRING}")
man("--tagstring", "-j1 --tagstring '{%} {= =}' echo ::: a", expect=f"unsupported: {PERL}")
man("--tagstring", "-k --tagstring '{.} {/}' echo ::: 'd/x y.z'", expect=f"agree: {TAGSTRING}")
man("-v", "-k -v echo {} '|' wc -c ::: a", expect=f"agree: {VERBOSE}")
man("-v", "-k -v --dry-run echo ::: a b", expect=f"agree: {VERBOSE}")
man("-v", "-k -v -X -j1 echo ::: a b", expect=f"agree: {VERBOSE}")
man("-v", "-kv --tag echo ::: a 'b c'", expect=f"agree: {VERBOSE}")
man("-v", "-k -v --line-buffer 'echo x; echo y' ::: a", expect=f"agree: {VERBOSE}")
man("--verbose", "-k -t echo ::: a b", expect=f"agree: {VERBOSE}")
man("-q", "-q -k echo '$HOME;' {} ::: 'a b'", expect=f"agree: {QUOTE}")
man("-q", "-q -k printf '%s|' {} x{}y ::: a ::: b", expect=f"agree: {QUOTE}")
man("-q", "-q -k -N2 echo x{}y ::: a b c d", expect=f"agree: {QUOTE}")
man("-q", "-q -k sh -c 'echo \"$1\"' sh {} ::: '$x' '*'", expect=f"agree: {QUOTE}")
man("-q", "-q -k --joblog log echo 'a b' '' {} ::: \"it's\"", expect=f"agree: {QUOTE}")
man("-q", "-q -k echo", stdin="a b\n$c\n", expect=f"agree: {QUOTE}")
man("-u", "-u --tag -j1 echo ::: a b", expect=f"agree: {UNGROUP}")
man("-u", "-u -j1 -v echo ::: a b", expect=f"agree: {UNGROUP}")
man("-u", "-u -j1 --joblog log 'echo {}; exit {}' ::: 0 1", expect=f"agree: {UNGROUP}")
man("-u", "-u -k -j1 'echo {}; echo err{} >&2' ::: a b", expect=f"agree: {UNGROUP}")
man("-u", "-u --line-buffer echo ::: a", expect=f"agree: {UNGROUP}")
man("-u", "--group -u echo ::: a", expect=f"agree: {UNGROUP}")
tutorial("Tag output", "--tagstring {#}-{} -k echo foo-{} ::: A B C", expect=f"agree: {TAGSTRING}")
tutorial("Quoting", "-q -k perl -e 'print \"@ARGV\\n\"' ::: This works ::: too", expect=f"agree: {QUOTE}")
tutorial("More pre-defined replacement strings", "--plus -k echo {%def} {#abc} ::: abcXdef abcdef", expect=f"agree: {PLUS}")
man("-q", "-q -k {} ::: 'echo a'", expect=f"agree: {QUOTE}")
man("--tagstring", "--tagstring {##}/{0#} --plus -k echo ::: a b", expect=f"agree: {TAGSTRING}")

# issue 16, second round (g16g): the locally useful options that were refused.
man("--no-run-if-empty", "-k -r --trim lr echo x{}y", stdin=" a \n \t \n\nb\n", expect=f"agree: {LOCAL}")
man("--no-run-if-empty", "-k -r echo {1}-{2} ::: '' a ::: '' b", expect=f"agree: {LOCAL}")
man("--no-run-if-empty", "-k -r -L2 echo", stdin="a \n\nb\n \nc\n", expect=f"agree: {LOCAL}")
man("--trim", "-k --trim n --colsep , echo '[{1}][{2}]' ::: ' a , b '", expect=f"agree: {LOCAL}")
man("--trim", "-k --trim r --colsep , echo '[{1}][{2}]' ::: ' a , b '", expect=f"agree: {LOCAL}")
man("--trim", "--trim x echo ::: a", compare=("status",), expect=f"agree: {LOCAL}")
man("--arg-sep", "-k --arg-sep ,, echo {1}{2} ,, a b ,,+ c d", expect=f"agree: {LOCAL}")
man("--arg-sep", "-k --arg-sep ,, echo ,, a ::: b", expect=f"agree: {LOCAL}")
man("--arg-file-sep", "-k --arg-file-sep // echo // abc-file :::: def-file", files=TUTORIAL_FILES, expect=f"agree: {LOCAL}")
man("--wd", "--wd 'd{}' 'echo x > f; basename $(pwd)' ::: 1 2", ordered=False, expect=f"agree: {LOCAL}")
man("--wd", "-k --wd sub/deeper --joblog log 'echo {} > f' ::: a", expect=f"agree: {LOCAL}")
man("--wd", "--wd ... 'echo x > f; ls' ::: a", expect=f"agree: {LOCAL}")
man("--tmpdir", "--tmpdir . 'echo $TMPDIR' ::: a", expect=f"agree: {LOCAL}")
man("--tmpdir", "--tempdir .. 'echo $TMPDIR' ::: a", expect=f"agree: {LOCAL}")
man("--eof", "-k -e stop echo ::: a stop b", expect=f"agree: {LOCAL}")
man("--eof", "-k --eof= -k echo", stdin="a\n\nb\n", expect=f"agree: {LOCAL}")
man("-E", "-k -E '' echo", stdin="a\n\nb\n", expect=f"agree: {LOCAL}")
man("--timeout", "-k -I aa -I bb echo bb aa ::: x", expect=f"agree: {LOCAL}")
man("--timeout", "--timeout 0.1 --timeout 10 'sleep 0.3; echo {}' ::: a", expect=f"agree: {LOCAL}")
man("--max-lines", "-k -l2 echo ::: a b c", expect=f"agree: {LOCAL}")
man("--link", "-k echo ::: a b :::+ x y ::::+ s1 s2", files={"s1": "1\n2\n3\n", "s2": "1\n2\n"}, expect=f"agree: {LINK}")
man("--link", "-k echo :::+ a b ::: x", expect=f"agree: {LINK}")
man("--delimiter", "-k -d '\\r\\n' echo {}a", stdin="b\r\nc\nd\r\ne", expect=f"agree: {DELIMITER}")
man("--delimiter", "-k -d ab echo {}x ::: 1ab2ab3", expect=f"agree: {DELIMITER}")
