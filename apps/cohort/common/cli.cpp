#include "cohort/common/cli.hpp"

#include "cohort/common/option_values.hpp"

#include <cohort/runtime/run.hpp>

#include <fmt/format.h>

#include <algorithm>
#include <sstream>

namespace cohort::app {

namespace {

constexpr std::size_t help_width = 80;
constexpr std::size_t option_column = 26;

// `text` as lines of at most `width` characters (words are not split).
std::vector<std::string> wrapped(std::string_view text, std::size_t width) {
  std::vector<std::string> lines;
  std::string line;
  std::size_t at = 0;
  while (at < text.size()) {
    const std::size_t space = text.find(' ', at);
    const std::string_view word =
        text.substr(at, space == std::string_view::npos ? text.npos : space - at);
    at = space == std::string_view::npos ? text.size() : space + 1;
    if (word.empty()) continue;
    if (!line.empty() && line.size() + 1 + word.size() > width) {
      lines.push_back(std::move(line));
      line.clear();
    }
    if (!line.empty()) line += ' ';
    line += word;
  }
  if (!line.empty()) lines.push_back(std::move(line));
  return lines;
}

std::string see_help(std::string_view tool) {
  return fmt::format("see cohort {} --help", tool);
}

// The option CLI11 names at the start of its message ("--zoom: 1 required
// TEXT missing", "--force was given a disallowed flag override").
std::string leading_option(std::string_view what) {
  if (what.empty() || what.front() != '-') return {};
  const std::size_t end = what.find_first_of(": ");
  return std::string(what.substr(0, end));
}

}  // namespace

help_formatter::help_formatter() {
  column_width(option_column);
}

std::string help_formatter::make_usage(const CLI::App*, std::string) const {
  return {};  // the description carries the synopsis
}

std::string help_formatter::make_group(std::string group, bool is_positional,
                                       std::vector<const CLI::Option*> opts) const {
  // One blank line between groups (CLI11 puts two).
  std::string out = group + ":\n";
  for (const CLI::Option* opt : opts) out += make_option(opt, is_positional);
  return out;
}

std::string help_formatter::make_option_name(const CLI::Option* opt, bool is_positional) const {
  const std::string names = CLI::Formatter::make_option_name(opt, is_positional);
  std::vector<std::string> all;
  for (std::size_t at = 0; at <= names.size();) {
    const std::size_t comma = std::min(names.find(',', at), names.size());
    all.push_back(names.substr(at, comma - at));
    at = comma + 1;
  }
  // GNU parallel takes a long option also without its inner dashes
  // (--max-procs, --maxprocs): help shows only the dashed spelling.
  const auto squashed = [](std::string name) {
    name.erase(std::remove(name.begin() + 2, name.end(), '-'), name.end());
    return name;
  };
  std::string out;
  for (const std::string& name : all) {
    const bool alias = name.size() > 2 && name.find('-', 2) == std::string::npos &&
                       std::any_of(all.begin(), all.end(), [&](const std::string& other) {
                         return other != name && other.size() > 2 && squashed(other) == name;
                       });
    if (alias) continue;
    if (!out.empty()) out += ", ";
    out += name;
  }
  return out;
}

std::string help_formatter::make_option_opts(const CLI::Option* opt) const {
  // The value's name (N, DURATION, FILE) only: no type, range or default.
  if (opt->get_type_size() == 0) return {};
  const std::string name = opt->get_type_name();
  return name.empty() ? std::string() : " " + name;
}

std::string help_formatter::make_option(const CLI::Option* opt, bool is_positional) const {
  const std::string head = "  " + make_option_name(opt, is_positional) + make_option_opts(opt);
  const std::string indent(option_column, ' ');
  const std::vector<std::string> lines = wrapped(make_option_desc(opt), help_width - option_column);
  std::string out = head;
  std::size_t first = 0;
  if (head.size() < option_column && !lines.empty()) {
    out += std::string(option_column - head.size(), ' ') + lines.front();
    first = 1;
  }
  out += '\n';
  for (std::size_t i = first; i < lines.size(); ++i) out += indent + lines[i] + '\n';
  return out;
}

void set_up_cli(CLI::App& app, std::string_view tool, const std::string& version_names) {
  app.formatter(std::make_shared<help_formatter>());
  app.set_help_flag("-h,--help", "print this help and exit")->group(other_group);
  app.set_version_flag(version_names, fmt::format("cohort {} {}", tool, COHORT_VERSION),
                       "print the version and exit")
      ->group(other_group);
}

std::string unknown_option_message(std::string_view word, std::string_view tool) {
  return fmt::format("unknown option '{}'; {}", shown_in_message(word), see_help(tool));
}

std::string parse_error_message(const CLI::ParseError& error, std::string_view tool,
                                std::string_view last_word) {
  const std::string_view what = error.what();
  if (const auto* extras = dynamic_cast<const CLI::ExtrasError*>(&error)) {
    (void)extras;
    // "The following argument(s) was/were not expected: A B": name the first.
    const std::size_t colon = what.find(": ");
    std::string_view first = colon == std::string_view::npos ? what : what.substr(colon + 2);
    first = first.substr(0, first.find(' '));
    if (!first.empty() && first.front() == '-') return unknown_option_message(first, tool);
    return fmt::format("unexpected argument '{}'; {}", shown_in_message(first), see_help(tool));
  }
  if (dynamic_cast<const CLI::ArgumentMismatch*>(&error) != nullptr) {
    const std::string option = leading_option(what);
    if (!option.empty() && what.find("flag override") != std::string_view::npos) {
      return fmt::format("{} takes no value; {}", option, see_help(tool));
    }
    if (!option.empty()) {
      const std::string_view named =
          !last_word.empty() && last_word.front() == '-' ? last_word : std::string_view(option);
      return fmt::format("{} needs a value; {}", shown_in_message(named), see_help(tool));
    }
  }
  return fmt::format("{}; {}", shown_in_message(what), see_help(tool));
}

CLI::Option* add_value(CLI::App& app, const std::string& names, std::string& target,
                       const std::string& value_name, const std::string& group,
                       const std::string& help) {
  return app.add_option(names, target, help)->type_name(value_name)->group(group);
}

std::optional<int> parse_command_line(CLI::App& app, std::string_view tool, int argc, char** argv,
                                      int usage_exit, const std::function<void()>& check) {
  try {
    app.parse(argc, argv);
    check();
  } catch (const CLI::Success& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    const std::string_view last = argc > 1 ? argv[argc - 1] : "";
    fmt::print(stderr, "cohort {}: {}\n", tool, parse_error_message(e, tool, last));
    return usage_exit;
  } catch (const std::exception& e) {
    fmt::print(stderr, "cohort {}: {}\n", tool, e.what());
    return usage_exit;
  }
  return std::nullopt;
}

int run_to_exit_status(int (*body)(int argc, char** argv, int& ended_by), int argc, char** argv) {
  int ended_by = 0;
  const int code = body(argc, argv, ended_by);
  return cohort::exit_like({code, ended_by});
}

}  // namespace cohort::app
