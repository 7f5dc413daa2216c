// A main() for fuzz targets in the normal build (gcc, both flavors): runs
// every file named on the command line, or found (recursively) in a
// directory named there, through LLVMFuzzerTestOneInput once. The cc_test
// each keyward_fuzzer() makes passes its seed corpus, so `bazel test //...`
// replays every seed (and every crash kept in the corpus) cheaply.
// Under --config=fuzz libFuzzer's own main replaces this file.
//
// Usage: json_fuzzer [FILE|DIR]...   exit 0 if every input ran, 1 if a file
// could not be read; a violated invariant aborts, as under libFuzzer.
#include <dirent.h>
#include <sys/stat.h>

#include <cstdint>
#include <cstdio>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size);

namespace {

void Collect(const std::string& path, std::vector<std::string>* files) {
  struct stat st;
  if (stat(path.c_str(), &st) != 0) {
    files->push_back(path);  // reported as unreadable below
    return;
  }
  if (!S_ISDIR(st.st_mode)) {
    files->push_back(path);
    return;
  }
  DIR* dir = opendir(path.c_str());
  if (dir == nullptr) return;
  while (dirent* e = readdir(dir)) {
    const std::string name = e->d_name;
    if (name == "." || name == "..") continue;
    Collect(path + "/" + name, files);
  }
  closedir(dir);
}

}  // namespace

int main(int argc, char** argv) {
  std::vector<std::string> files;
  for (int i = 1; i < argc; ++i) Collect(argv[i], &files);
  int failed = 0;
  for (const std::string& f : files) {
    std::ifstream in(f, std::ios::binary);
    if (!in) {
      std::fprintf(stderr, "replay: cannot read %s\n", f.c_str());
      failed = 1;
      continue;
    }
    std::stringstream buf;
    buf << in.rdbuf();
    const std::string data = buf.str();
    LLVMFuzzerTestOneInput(reinterpret_cast<const uint8_t*>(data.data()),
                           data.size());
  }
  std::printf("replay: %zu inputs ran\n", files.size());
  if (files.empty()) {
    std::fprintf(stderr, "replay: no inputs (empty corpus?)\n");
    return 1;
  }
  return failed;
}
