// RunCli and the help texts of the `keyward` CLI, all generated from the
// command table (client/cli_command.h).
#include <algorithm>
#include <ostream>
#include <utility>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "client/cli_command.h"

namespace keyward::cli {
namespace {

using Kind = FlagSpec::Kind;

// Pad makes `left` a column of `width` (at least two spaces after it).
std::string Pad(std::string left, size_t width) {
  if (left.size() < width) {
    left.append(width - left.size(), ' ');
  } else {
    left.append("  ");
  }
  return left;
}

std::string FlagLine(const FlagSpec& f) {
  std::string left = absl::StrCat("  --", f.name);
  if (f.kind != Kind::kBool) absl::StrAppend(&left, " ", f.value_name);
  if (f.kind == Kind::kRepeated) absl::StrAppend(&left, " ...");
  return absl::StrCat(Pad(std::move(left), 30), f.help, "\n");
}

std::string CommandLine(const Command& c) {
  std::string left = absl::StrCat("  ", c.name, c.synopsis.empty() ? "" : " ",
                                  c.synopsis);
  return absl::StrCat(Pad(std::move(left), 44), c.summary, "\n");
}

// FindCommand matches the leading words of `words` against the table and
// sets `*used` to how many words its name has.
const Command* FindCommand(const std::vector<std::string>& words,
                           size_t* used) {
  for (const Command& c : Commands()) {
    std::vector<std::string> parts = absl::StrSplit(c.name, ' ');
    if (parts.size() > words.size()) continue;
    if (std::equal(parts.begin(), parts.end(), words.begin())) {
      *used = parts.size();
      return &c;
    }
  }
  return nullptr;
}

// IsGroupWord: some command's name starts with "<word> ".
bool IsGroupWord(absl::string_view word) {
  return std::any_of(Commands().begin(), Commands().end(),
                     [&](const Command& c) {
                       return absl::StartsWith(c.name, absl::StrCat(word, " "));
                     });
}

bool IsHelpWord(absl::string_view word) {
  return word == "--help" || word == "-h";
}

// SplitLeadingFlags moves the global flags written before the command's
// words (with their values) from `all` into `leading`; returns the words.
std::vector<std::string> SplitLeadingFlags(const std::vector<std::string>& all,
                                           std::vector<std::string>* leading) {
  size_t i = 0;
  // A word of dashes only ("--") is not a flag: the words start there.
  while (i < all.size() && absl::StartsWith(all[i], "-") &&
         all[i].find_first_not_of('-') != std::string::npos) {
    std::string name = all[i].substr(all[i].find_first_not_of('-'));
    name = name.substr(0, name.find('='));
    std::replace(name.begin(), name.end(), '_', '-');
    auto spec = std::find_if(GlobalFlags().begin(), GlobalFlags().end(),
                             [&](const FlagSpec& f) { return f.name == name; });
    bool takes_value = spec != GlobalFlags().end() &&
                       spec->kind != Kind::kBool &&
                       !absl::StrContains(all[i], '=');
    leading->push_back(all[i++]);
    if (takes_value && i < all.size()) leading->push_back(all[i++]);
  }
  return std::vector<std::string>(all.begin() + i, all.end());
}

// RunHelp answers `keyward [help [WORDS...]]`.
int RunHelp(const std::vector<std::string>& words, bool asked,
            const Environment& env) {
  if (words.size() >= 2) {
    size_t used = 0;
    std::vector<std::string> rest(words.begin() + 1, words.end());
    if (const Command* c = FindCommand(rest, &used)) {
      *env.out << CommandHelp(*c);
      return kExitOk;
    }
    if (IsGroupWord(rest[0])) {
      *env.out << TopHelp(rest[0]);
      return kExitOk;
    }
  }
  *env.out << TopHelp("");
  return words.empty() && !asked ? kExitError : kExitOk;
}

// RunCommand parses the arguments of `command` and runs its handler.
int RunCommand(const Command& command, std::vector<std::string> args,
               const Environment& env) {
  std::vector<FlagSpec> flags = command.flags;
  flags.insert(flags.end(), command.withheld.begin(), command.withheld.end());
  flags.insert(flags.end(), GlobalFlags().begin(), GlobalFlags().end());
  absl::StatusOr<ParsedArgs> parsed = ParseArgs(flags, args);
  if (!parsed.ok()) {
    *env.err << "keyward: " << command.name << ": "
             << parsed.status().message() << std::endl;
    return kExitError;
  }
  if (parsed->Has("help")) {
    *env.out << CommandHelp(command);
    return kExitOk;
  }
  Context ctx(command, *std::move(parsed), env);
  for (const FlagSpec& f : command.withheld) {
    if (!ctx.args().GetAll(f.name).empty()) {
      return ctx.Usage(absl::StrCat("--", f.name, " is not supported: ", f.help));
    }
  }
  size_t n = ctx.pos().size();
  if (n < command.min_args || n > command.max_args) {
    return ctx.Usage(absl::StrCat(
        "expects ", command.synopsis.empty() ? "no arguments" : command.synopsis,
        n > command.max_args ? " (too many arguments)" : ""));
  }
  return command.run(ctx);
}

}  // namespace

std::string CommandHelp(const Command& c) {
  std::string text = absl::StrCat(
      "usage: keyward ", c.name, c.synopsis.empty() ? "" : " ", c.synopsis,
      c.flags.empty() ? "" : " [flags]", "\n\n", c.summary, ".\n");
  if (!c.details.empty()) absl::StrAppend(&text, c.details, "\n");
  if (!c.flags.empty()) {
    absl::StrAppend(&text, "\nflags:\n");
    for (const FlagSpec& f : c.flags) absl::StrAppend(&text, FlagLine(f));
  }
  absl::StrAppend(&text, "\nglobal flags:\n");
  for (const FlagSpec& f : GlobalFlags()) absl::StrAppend(&text, FlagLine(f));
  return text;
}

std::string TopHelp(absl::string_view group) {
  std::string text;
  if (group.empty()) {
    text =
        "usage: keyward [--addr TARGET] [--json] [--timeout D] COMMAND "
        "[args]\n\n"
        "Talks to keywardd, the key-custody daemon. Secrets come from files or "
        "a\nprompt, never from arguments. Exit codes: 0 ok, 1 invalid "
        "(verify*),\n2 error.\n";
    for (const CommandGroup& g : CommandGroups()) {
      absl::StrAppend(&text, "\n", g.title, ":\n");
      for (const Command& c : Commands()) {
        if (c.group == g.name) absl::StrAppend(&text, CommandLine(c));
      }
    }
  } else {
    text = absl::StrCat("usage: keyward ", group,
                        " SUBCOMMAND [args]\n\nsubcommands:\n");
    for (const Command& c : Commands()) {
      if (absl::StartsWith(c.name, absl::StrCat(group, " "))) {
        absl::StrAppend(&text, CommandLine(c));
      }
    }
  }
  absl::StrAppend(&text, "\n`keyward COMMAND --help` explains a command.\n");
  return text;
}

int RunCli(const std::vector<std::string>& all, const Environment& env) {
  std::vector<std::string> leading;
  std::vector<std::string> words = SplitLeadingFlags(all, &leading);
  bool help_first =
      std::any_of(leading.begin(), leading.end(),
                  [](const std::string& w) { return IsHelpWord(w); });
  if (words.empty() || words[0] == "help") {
    return RunHelp(words, help_first, env);
  }
  size_t used = 0;
  const Command* command = FindCommand(words, &used);
  if (command == nullptr) {
    if (IsGroupWord(words[0])) {
      if (help_first || (words.size() >= 2 && IsHelpWord(words[1]))) {
        *env.out << TopHelp(words[0]);
        return kExitOk;
      }
      *env.err << "keyward: unknown " << words[0] << " subcommand"
               << (words.size() >= 2 ? absl::StrCat(" \"", words[1], "\"") : "")
               << " (see `keyward " << words[0] << " --help`)" << std::endl;
      return kExitError;
    }
    *env.err << "keyward: unknown command \"" << words[0]
             << "\" (see `keyward help`)" << std::endl;
    return kExitError;
  }
  std::vector<std::string> args = leading;
  args.insert(args.end(), words.begin() + used, words.end());
  return RunCommand(*command, std::move(args), env);
}

}  // namespace keyward::cli
