#include "cohort/run/gnu_options.hpp"

#include "cohort/common/option_values.hpp"

#include <fmt/format.h>

namespace cohort::app::run {

namespace {

// What cohort run does not take of GNU parallel 20221122's options (its man
// page and its option parser), and why. The options issue 16 adds elsewhere
// (--colsep, -N, -n, -X, -m, -L, -l, --link, --header, -d, -E, -e, --shuf, -I
// and the other replacement-string options, --plus, --tagstring, -v, -t, -q,
// -u, -r, --trim, --arg-sep, --arg-file-sep, --wd, --tmpdir, --compress and their
// other spellings) are not here: they are declared with the others.
constexpr std::string_view one_machine =
    "cohort run runs its jobs on this machine; to spread them over machines, run one cohort run "
    "per machine on its share of the inputs (a Slurm array or a Kubernetes Indexed Job)";
constexpr std::string_view pipe_to_own_job =
    "with --pipe and --pipepart each chunk is the standard input of a job of its own; for few "
    "jobs over much data, use --pipepart -a FILE --block -N (N chunks per job slot)";
constexpr std::string_view pipe_on_stdin =
    "with --pipe a job reads its chunk on standard input; to give a command a file, use "
    "'cat > file' in it, or <(...)";
constexpr std::string_view no_perl =
    "cohort has no Perl; compute the value in the shell command instead, e.g. \"$(basename {} "
    ".gz)\"";
constexpr std::string_view output_in_memory =
    "jobs' output is kept in memory, not in temporary files";
constexpr std::string_view no_semaphore =
    "cohort run is not a counting semaphore; give all the commands to one cohort run (one a line "
    "on standard input) and let -j bound them";

constexpr unsupported_gnu_option table[] = {
    {"--sshlogin -S --sshloginfile --slf --ssh --ssh-delay --sshdelay --controlmaster -M "
     "--basefile --bf --transfer --transferfile --transfer-file --transferfiles "
     "--transfer-files --tf --return --trc --cleanup --onall --nonall --filter-hosts "
     "--filterhosts --hostgroups --hgrp --hostgroup --hostgrp --rsync-opts --rsyncopts",
     one_machine},
    {"--sql --sql-master --sqlmaster --sql-worker --sqlworker --sql-and-worker --sqlandworker",
     "cohort has no SQL job queue; the job log (--joblog) and --resume keep the state of a run"},
    {"--rpl --parens --filter", no_perl},
    {"--round-robin --roundrobin --round --shard --bin --tee --group-by --groupby",
     pipe_to_own_job},
    {"--cat --fifo", pipe_on_stdin},
    {"--block-timeout --blocktimeout --bt",
     "a chunk is cut when --block bytes have come or the input ended, never on a timer"},
    {"--remove-rec-sep --removerecsep --rrs",
     "chunks are passed as they are; remove the separators in the command (e.g. with sed)"},
    {"--output-as-files --outputasfiles --files",
     "jobs' output is kept in memory, not in temporary files; --results DIR saves it in files"},
    {"--ctag --ctagstring --ctag-string --color --colour --color-failed --colour-failed "
     "--colorfailed --colourfailed --color-fail --colour-fail --colorfail --colourfail --cf",
     "output is not coloured"},
    {"--latest-line --latestline --ll", "use --line-buffer or --bar"},
    {"--memsuspend --noswap --limit",
     "jobs start by -j, --load and --memfree; lower -j on a machine that swaps"},
    {"--total-jobs --totaljobs --total", "--bar counts the jobs itself"},
    {"--record-env --recordenv --session",
     "jobs inherit cohort's whole environment (--env VAR is accepted and changes nothing)"},
    {"--profile -J --plain", "cohort reads no profiles: give the options on the command line"},
    {"--skip-first-line --skipfirstline", "drop the first line before (tail -n +2)"},
    {"--csv", "CSV input is not parsed"},
    {"--show-limits --showlimits -x --exit --max-line-length-allowed --maxlinelengthallowed",
     "the command-line limit of -X/-m is fixed at 64,036 bytes (-s N sets a smaller one) and "
     "is not probed"},
    {"-p --interactive --tty -o --open-tty",
     "jobs do not read the terminal; cohort run never asks before a job"},
    {"--semaphore --semaphore-name --semaphorename --id --semaphore-timeout "
     "--semaphoretimeout --st --fg --bg --wait",
     no_semaphore},
    {"--shebang --hashbang --shebang-wrap",
     "call cohort run from the script, with the script's lines on its standard input"},
    {"--tmux --tmuxpane --tmux-pane", "jobs do not run in tmux"},
    {"--compress-program --compressprogram "
     "--use-compress-program --usecompressprogram --decompress-program --decompressprogram "
     "--use-decompress-program --usedecompressprogram",
     output_in_memory},
    {"--template --tmpl", "write the files in the command instead"},
    {"--number-of-cpus --numberofcpus --number-of-cores --numberofcores --number-of-sockets "
     "--numberofsockets --number-of-threads --numberofthreads",
     "use nproc"},
    {"--use-sockets-instead-of-threads --usesocketsinsteadofthreads "
     "--use-cores-instead-of-threads --usecoresinsteadofthreads --use-cpus-instead-of-cores "
     "--usecpusinsteadofcores",
     "-j counts CPU threads; give -j N for another count"},
    {"--process-slot-var --processslotvar",
     "each job has its slot number in $PARALLEL_JOBSLOT (and {%})"},
    {"--minversion --min-version", "compare cohort run --version yourself"},
    {"--embed --shell-completion --shellcompletion --shell-quote --shellquote --shell_quote "
     "--bug",
     "it is a GNU parallel utility with no counterpart in cohort"},
    {"--_parset", "it is internal to GNU's parset"},
    {"-D --debug", "there is no debug output; --dry-run prints the commands"},
    {"-g -B -T -U -W -Y -H --ctrlc --noctrlc --tollef",
     "GNU parallel retired it (-g: use --group, -B: --bf, -T: --tty, -U: --er, -W: --wd, -Y: "
     "--shebang, -H: --halt)"},
};

// `word` as the option it names: `--opt=value` -> `--opt`.
std::string_view option_of(std::string_view word) {
  if (word.starts_with("--")) return word.substr(0, word.find('='));
  return word;
}

// The row naming `option`, and that name's row's first name.
const unsupported_gnu_option* find_row(std::string_view option) {
  for (const auto& row : table) {
    std::string_view names = row.names;
    while (!names.empty()) {
      const std::size_t space = names.find(' ');
      if (names.substr(0, space) == option) return &row;
      names = space == std::string_view::npos ? std::string_view{} : names.substr(space + 1);
    }
  }
  return nullptr;
}

}  // namespace

std::span<const unsupported_gnu_option> unsupported_gnu_options() {
  return table;
}

std::optional<std::string> unsupported_option_message(std::string_view word) {
  if (word.size() < 2 || word.front() != '-') return std::nullopt;
  std::string_view option = option_of(word);
  const unsupported_gnu_option* row = find_row(option);
  // -Shost: a short option with its value attached (GNU's bundling).
  if (row == nullptr && !word.starts_with("--") && word.size() > 2) {
    option = word.substr(0, 2);
    row = find_row(option);
  }
  if (row == nullptr) return std::nullopt;
  const std::string_view first = row->names.substr(0, row->names.find(' '));
  return fmt::format("{}{} is not supported: {}", shown_in_message(option),
                     option == first ? std::string() : fmt::format(" ({})", first), row->why);
}

void refuse_perl_expressions(std::span<const std::string> command) {
  for (const std::string& word : command) {
    const std::size_t open = word.find("{=");
    if (open != std::string::npos && word.find("=}", open + 2) != std::string::npos) {
      throw usage_error(fmt::format("'{}': {{= perl expression =}} is not supported: {}",
                                    shown_in_message(word), no_perl));
    }
  }
}

}  // namespace cohort::app::run
