// Shell completion of the `keyward` CLI: `keyward completion bash|zsh`
// prints a script generated from the command table.
//
// Both scripts share two generated shell functions (plain POSIX `case`,
// valid in bash and zsh):
//   _keyward_words "WORDS"  the words that may follow the command words
//                           typed so far ("" -> top-level words, "key" ->
//                           its subcommands);
//   _keyward_flags "NAME"   the flags of command NAME (global flags too),
//                           or its choices when its synopsis is "a|b".
// and two lists: the flags that take a value (their value is skipped when
// finding the command, and completed as a file name when it is a FILE).
#include <algorithm>
#include <set>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "client/cli_command.h"

namespace keyward::cli {
namespace {

using Kind = FlagSpec::Kind;

// Choices are the words of a synopsis like "bash|zsh", or none.
std::vector<std::string> Choices(const std::string& synopsis) {
  if (!absl::StrContains(synopsis, '|')) return {};
  std::vector<std::string> words = absl::StrSplit(synopsis, '|');
  for (const std::string& w : words) {
    if (w.empty() || !std::all_of(w.begin(), w.end(), absl::ascii_islower)) return {};
  }
  return words;
}

std::string FlagWords(const std::vector<FlagSpec>& flags) {
  std::vector<std::string> words;
  for (const FlagSpec& f : flags) words.push_back(absl::StrCat("--", f.name));
  return absl::StrJoin(words, " ");
}

// SharedFunctions is the part of the script common to bash and zsh.
std::string SharedFunctions(const std::vector<Command>& commands) {
  // Next words after each prefix of a command's name.
  std::vector<std::pair<std::string, std::vector<std::string>>> next;
  auto add = [&](const std::string& prefix, const std::string& word) {
    auto it = std::find_if(next.begin(), next.end(),
                           [&](const auto& p) { return p.first == prefix; });
    if (it == next.end()) it = next.insert(next.end(), {prefix, {}});
    if (std::find(it->second.begin(), it->second.end(), word) == it->second.end()) {
      it->second.push_back(word);
    }
  };
  std::set<std::string> value_flags;
  std::set<std::string> file_flags;
  std::vector<FlagSpec> all_flags = GlobalFlags();
  for (const Command& c : commands) {
    std::vector<std::string> parts = absl::StrSplit(c.name, ' ');
    std::string prefix;
    for (const std::string& part : parts) {
      add(prefix, part);
      prefix = prefix.empty() ? part : absl::StrCat(prefix, " ", part);
    }
    all_flags.insert(all_flags.end(), c.flags.begin(), c.flags.end());
  }
  add("", "help");
  for (const FlagSpec& f : all_flags) {
    if (f.kind == Kind::kBool) continue;
    value_flags.insert(absl::StrCat("--", f.name));
    if (f.value_name == "FILE") file_flags.insert(absl::StrCat("--", f.name));
  }
  std::string script = absl::StrCat(
      "_keyward_value_flags=' ", absl::StrJoin(value_flags, " "), " '\n",
      "_keyward_file_flags=' ", absl::StrJoin(file_flags, " "), " '\n\n",
      "_keyward_words() {\n  case \"$1\" in\n");
  for (const auto& [prefix, words] : next) {
    absl::StrAppend(&script, "    \"", prefix, "\") echo '", absl::StrJoin(words, " "),
                    "' ;;\n");
  }
  absl::StrAppend(&script, "  esac\n}\n\n_keyward_flags() {\n  case \"$1\" in\n");
  std::string global = FlagWords(GlobalFlags());
  for (const Command& c : commands) {
    std::vector<std::string> choices = Choices(c.synopsis);
    std::string words = choices.empty()
                            ? absl::StrCat(FlagWords(c.flags), c.flags.empty() ? "" : " ",
                                           global)
                            : absl::StrJoin(choices, " ");
    absl::StrAppend(&script, "    \"", c.name, "\") echo '", words, "' ;;\n");
  }
  absl::StrAppend(&script, "  esac\n}\n\n");
  // _keyward_find sets `_keyward_cmd` (the command typed, or "") and
  // `_keyward_typed` (the command words typed) from the words before the
  // cursor, given as arguments.
  absl::StrAppend(
      &script,
      "_keyward_find() {\n"
      "  local w skip='' typed=''\n"
      "  _keyward_cmd=''\n"
      "  for w in \"$@\"; do\n"
      "    if [ -n \"$skip\" ]; then skip=''; continue; fi\n"
      "    case \"$w\" in\n"
      "      --*=*) ;;\n"
      "      -*) case \"$_keyward_value_flags\" in *\" $w \"*) skip=1 ;; esac ;;\n"
      "      *)\n"
      "        if [ -n \"$_keyward_cmd\" ]; then continue; fi\n"
      "        typed=\"${typed:+$typed }$w\"\n"
      "        if [ -n \"$(_keyward_flags \"$typed\")\" ] || [ \"$typed\" = completion ]; then\n"
      "          _keyward_cmd=\"$typed\"\n"
      "        fi ;;\n"
      "    esac\n"
      "  done\n"
      "  _keyward_typed=\"$typed\"\n"
      "}\n\n");
  return script;
}

std::string CommandNamesComment(const std::vector<Command>& commands) {
  std::vector<std::string> names;
  for (const Command& c : commands) names.push_back(c.name);
  return absl::StrCat("# Commands: ", absl::StrJoin(names, ", "), ".\n");
}

}  // namespace

std::string BashCompletion(const std::vector<Command>& commands) {
  return absl::StrCat(
      "# bash completion for keyward, generated by `keyward completion bash`.\n",
      CommandNamesComment(commands),
      "# Load it with: source <(keyward completion bash)\n\n",
      SharedFunctions(commands),
      "_keyward() {\n"
      "  local cur=\"${COMP_WORDS[COMP_CWORD]}\" prev=''\n"
      "  if [ \"$COMP_CWORD\" -gt 1 ]; then prev=\"${COMP_WORDS[COMP_CWORD-1]}\"; fi\n"
      "  COMPREPLY=()\n"
      "  case \"$_keyward_value_flags\" in *\" $prev \"*)\n"
      "    case \"$_keyward_file_flags\" in\n"
      "      *\" $prev \"*) COMPREPLY=($(compgen -f -- \"$cur\")) ;;\n"
      "    esac\n"
      "    return 0 ;;\n"
      "  esac\n"
      "  _keyward_find \"${COMP_WORDS[@]:1:COMP_CWORD-1}\"\n"
      "  local words\n"
      "  if [ -n \"$_keyward_cmd\" ]; then\n"
      "    words=\"$(_keyward_flags \"$_keyward_cmd\")\"\n"
      "    case \"$cur\" in -*) ;; *) case \"$words\" in -*) words='' ;; esac ;; esac\n"
      "  else\n"
      "    words=\"$(_keyward_words \"$_keyward_typed\")\"\n"
      "  fi\n"
      "  COMPREPLY=($(compgen -W \"$words\" -- \"$cur\"))\n"
      "}\n"
      "complete -F _keyward keyward\n");
}

std::string ZshCompletion(const std::vector<Command>& commands) {
  return absl::StrCat(
      "#compdef keyward\n"
      "# zsh completion for keyward, generated by `keyward completion zsh`.\n",
      CommandNamesComment(commands),
      "# Load it with: source <(keyward completion zsh)  (after compinit),\n"
      "# or save it as _keyward in a folder of $fpath.\n\n",
      SharedFunctions(commands),
      "_keyward() {\n"
      "  local cur=\"${words[CURRENT]}\" prev=\"${words[CURRENT-1]}\"\n"
      "  case \"$_keyward_value_flags\" in *\" $prev \"*)\n"
      "    case \"$_keyward_file_flags\" in *\" $prev \"*) _files ;; esac\n"
      "    return 0 ;;\n"
      "  esac\n"
      "  _keyward_find \"${(@)words[2,CURRENT-1]}\"\n"
      "  local candidates\n"
      "  if [ -n \"$_keyward_cmd\" ]; then\n"
      "    candidates=\"$(_keyward_flags \"$_keyward_cmd\")\"\n"
      "    case \"$cur\" in -*) ;; *) case \"$candidates\" in -*) candidates='' ;; esac ;; "
      "esac\n"
      "  else\n"
      "    candidates=\"$(_keyward_words \"$_keyward_typed\")\"\n"
      "  fi\n"
      "  compadd -- ${=candidates}\n"
      "}\n\n"
      "if [ \"${funcstack[1]}\" = _keyward ]; then\n"
      "  _keyward \"$@\"\n"
      "else\n"
      "  compdef _keyward keyward\n"
      "fi\n");
}

namespace {

int RunCompletion(Context& ctx) {
  const std::string& shell = ctx.pos()[0];
  if (shell == "bash") {
    ctx.Print(BashCompletion(Commands()));
  } else if (shell == "zsh") {
    ctx.Print(ZshCompletion(Commands()));
  } else {
    return ctx.Usage(absl::StrCat("unknown shell \"", shell, "\"; give bash or zsh"));
  }
  return kExitOk;
}

}  // namespace

std::vector<Command> CompletionCommands() {
  return {
      {"completion", "bash|zsh", "print a shell completion script", {}, 1, 1,
       RunCompletion,
       "bash: source <(keyward completion bash), e.g. from ~/.bashrc.\n"
       "zsh: source <(keyward completion zsh) after compinit, or save the "
       "output as _keyward in a folder of $fpath."},
  };
}

}  // namespace keyward::cli
