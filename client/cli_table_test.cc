// Tests of the command table itself: its invariants, the help generated
// from it, and the bash and zsh completion scripts.
#include <stdio.h>

#include <map>
#include <set>

#include "absl/strings/str_split.h"
#include "client/cli_test_util.h"

namespace keyward::cli::testing {
namespace {


TEST(CommandTableTest, EveryEntryIsWellFormed) {
  std::set<std::string> names;
  std::set<std::string> groups;
  for (const CommandGroup& g : CommandGroups()) groups.insert(g.name);
  for (const char* g : {"key", "crypto", "policy", "apikey", "jwt", "audit", "system"}) {
    EXPECT_EQ(groups.count(g), 1u) << g;
  }
  std::map<std::string, FlagSpec::Kind> kinds;
  for (const FlagSpec& f : GlobalFlags()) kinds[f.name] = f.kind;
  for (const Command& c : Commands()) {
    SCOPED_TRACE(c.name);
    EXPECT_TRUE(names.insert(c.name).second) << "duplicate command";
    EXPECT_EQ(groups.count(c.group), 1u);
    EXPECT_NE(c.run, nullptr);
    EXPECT_FALSE(c.summary.empty());
    EXPECT_LE(c.min_args, c.max_args);
    std::set<std::string> flags;
    for (const FlagSpec& f : c.flags) {
      EXPECT_TRUE(flags.insert(f.name).second) << "duplicate flag --" << f.name;
      EXPECT_FALSE(f.help.empty()) << f.name;
      auto global = std::find_if(GlobalFlags().begin(), GlobalFlags().end(),
                                 [&](const FlagSpec& g) { return g.name == f.name; });
      EXPECT_EQ(global, GlobalFlags().end()) << "--" << f.name << " shadows a global flag";
      // The completion scripts skip a flag's value by the flag's name: a
      // name must take a value everywhere or nowhere.
      auto [it, added] = kinds.emplace(f.name, f.kind);
      EXPECT_EQ(it->second == FlagSpec::Kind::kBool, f.kind == FlagSpec::Kind::kBool)
          << "--" << f.name << " is a switch in one command and takes a value in another";
    }
    for (const FlagSpec& f : c.withheld) {
      EXPECT_EQ(flags.count(f.name), 0u) << "--" << f.name << " both offered and withheld";
      EXPECT_FALSE(f.help.empty()) << "withheld --" << f.name << " needs a reason";
    }
  }
}

TEST(CommandTableTest, HelpListsEveryCommandAndFlag) {
  StrictMock<MockClient> client;
  CliResult top = RunWith(client, {"help"});
  ASSERT_EQ(top.exit_code, kExitOk);
  for (const CommandGroup& g : CommandGroups()) EXPECT_THAT(top.out, HasSubstr(g.title + ":"));
  for (const Command& c : Commands()) {
    SCOPED_TRACE(c.name);
    EXPECT_THAT(top.out, HasSubstr("  " + c.name + (c.synopsis.empty() ? "" : " ")));
    std::vector<std::string> words = absl::StrSplit(c.name, ' ');
    words.push_back("--help");
    CliResult help = RunWith(client, words);
    ASSERT_EQ(help.exit_code, kExitOk) << help.err;
    EXPECT_THAT(help.out, HasSubstr("usage: keyward " + c.name));
    for (const FlagSpec& f : c.flags) EXPECT_THAT(help.out, HasSubstr("  --" + f.name));
    for (const FlagSpec& f : c.withheld) {
      EXPECT_THAT(help.out, Not(HasSubstr("--" + f.name + " ")));
    }
  }
  CliResult group = RunWith(client, {"key", "--help"});
  EXPECT_EQ(group.exit_code, kExitOk);
  EXPECT_THAT(group.out, HasSubstr("key destroy-version"));
  EXPECT_THAT(group.out, Not(HasSubstr("policy grant")));
}

TEST(CommandTableTest, UnknownCommandsAndArgumentCountsAreUsageErrors) {
  StrictMock<MockClient> client;
  ExpectRefusedBeforeAnyCall(RunWith(client, {"nonsense"}), "unknown command \"nonsense\"");
  ExpectRefusedBeforeAnyCall(RunWith(client, {"key", "frob"}), "unknown key subcommand");
  ExpectRefusedBeforeAnyCall(RunWith(client, {"sign"}), "expects NAME");
  ExpectRefusedBeforeAnyCall(RunWith(client, {"key", "show", "a", "b"}), "too many");
  ExpectRefusedBeforeAnyCall(RunWith(client, {"sign", "k", "--bogus"}), "unknown flag --bogus");
  EXPECT_EQ(RunWith(client, {}).exit_code, kExitError);
}

// Words and flags a completion script must mention.
std::vector<std::string> EveryWordAndFlag() {
  std::vector<std::string> all;
  for (const Command& c : Commands()) {
    for (absl::string_view w : absl::StrSplit(c.name, ' ')) all.emplace_back(w);
    for (const FlagSpec& f : c.flags) all.push_back("--" + f.name);
  }
  for (const FlagSpec& f : GlobalFlags()) all.push_back("--" + f.name);
  return all;
}

TEST(CompletionTest, ScriptsMentionEveryCommandAndFlag) {
  std::string bash = BashCompletion(Commands());
  std::string zsh = ZshCompletion(Commands());
  for (const std::string& w : EveryWordAndFlag()) {
    EXPECT_THAT(bash, HasSubstr(w));
    EXPECT_THAT(zsh, HasSubstr(w));
  }
  for (const Command& c : Commands()) {
    EXPECT_THAT(bash, HasSubstr("\"" + c.name + "\") echo"));
    EXPECT_THAT(zsh, HasSubstr("\"" + c.name + "\") echo"));
  }
  EXPECT_THAT(bash, HasSubstr("--jwt-issuer"));  // honoured since schema 7
  EXPECT_THAT(zsh, HasSubstr("#compdef keyward"));
  StrictMock<MockClient> client;
  CliResult r = RunWith(client, {"completion", "bash"});
  EXPECT_EQ(r.exit_code, kExitOk);
  EXPECT_EQ(r.out, bash);
  ExpectRefusedBeforeAnyCall(RunWith(client, {"completion", "fish"}), "give bash or zsh");
}

// Bash runs `script` and returns its output and exit status.
std::pair<int, std::string> Bash(const std::string& script) {
  std::string path = WriteTemp("bash-script.sh", script, 0644);
  FILE* p = popen(("/bin/bash --norc --noprofile " + path + " 2>&1").c_str(), "r");
  std::string out;
  char buf[4096];
  size_t n;
  while ((n = fread(buf, 1, sizeof buf, p)) > 0) out.append(buf, n);
  int status = pclose(p);
  return {WIFEXITED(status) ? WEXITSTATUS(status) : -1, out};
}

TEST(CompletionTest, BashAcceptsTheScript) {
  std::string path = WriteTemp("keyward.bash", BashCompletion(Commands()), 0644);
  auto [rc, out] = Bash("bash -n " + path);
  EXPECT_EQ(rc, 0) << out;
}

TEST(CompletionTest, BashCompletesWordsFlagsAndFiles) {
  std::string path = WriteTemp("keyward.bash", BashCompletion(Commands()), 0644);
  WriteTemp("completion-data.bin", "x", 0644);
  std::string dir = TempPath("");
  // complete LINE: the candidates bash offers for the last word of LINE.
  std::string script = absl::StrCat(
      "source ", path, "\n",
      "complete_line() { read -ra COMP_WORDS <<< \"$1\"; ",
      "[ \"${1: -1}\" = ' ' ] && COMP_WORDS+=(''); ",
      "COMP_CWORD=$((${#COMP_WORDS[@]} - 1)); _keyward; echo \"${COMPREPLY[*]}\"; }\n",
      "complete_line 'keyward key cr'\n",
      "complete_line 'keyward --addr unix:/x ju'\n",
      "complete_line 'keyward key create k --ty'\n",
      "complete_line 'keyward --json sign k --in ", dir, "completion-da'\n",
      "complete_line 'keyward completion '\n",
      "complete_line 'keyward key update k --jwt'\n");
  auto [rc, out] = Bash(script);
  ASSERT_EQ(rc, 0) << out;
  std::vector<std::string> lines = absl::StrSplit(out, '\n');
  ASSERT_GE(lines.size(), 6u) << out;
  EXPECT_EQ(lines[0], "create");
  EXPECT_EQ(lines[1], "");  // no command starts with "ju"
  EXPECT_EQ(lines[2], "--type");
  EXPECT_EQ(lines[3], dir + "completion-data.bin");
  EXPECT_EQ(lines[4], "bash zsh");
  EXPECT_EQ(lines[5], "--jwt-max-ttl --jwt-default-ttl --jwt-issuer");
}

}  // namespace
}  // namespace keyward::cli::testing
