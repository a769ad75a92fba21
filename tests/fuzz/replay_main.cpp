/* gst-rooms: runs a libFuzzer target without libFuzzer, over every file
 * named on the command line or found under a directory named there (in name
 * order; names starting with '.' are skipped).  Builds without clang's
 * -fsanitize=fuzzer use it to replay each target's corpus and regression
 * inputs, under the sanitizers when the build has them. */
#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

extern "C" int LLVMFuzzerTestOneInput (const uint8_t *data, size_t size);
extern "C" __attribute__ ((weak)) int LLVMFuzzerInitialize (
    int *argc, char ***argv);

namespace fs = std::filesystem;

int
main (int argc, char **argv)
{
  if (LLVMFuzzerInitialize)
    LLVMFuzzerInitialize (&argc, &argv);

  std::vector<fs::path> inputs;
  for (int i = 1; i < argc; i++) {
    fs::path arg (argv[i]);
    if (fs::is_directory (arg)) {
      for (const auto &entry : fs::recursive_directory_iterator (arg))
        if (entry.is_regular_file ()
            && entry.path ().filename ().string ()[0] != '.')
          inputs.push_back (entry.path ());
    } else if (fs::exists (arg)) {
      inputs.push_back (arg);
    }
  }
  std::sort (inputs.begin (), inputs.end ());

  for (const fs::path &input : inputs) {
    std::ifstream in (input, std::ios::binary);
    std::vector<uint8_t> data ((std::istreambuf_iterator<char> (in)),
        std::istreambuf_iterator<char> ());
    /* Printed first, so a crash is shown after the input that caused it. */
    printf ("replay: %s (%zu bytes)\n", input.c_str (), data.size ());
    fflush (stdout);
    LLVMFuzzerTestOneInput (data.data (), data.size ());
  }
  printf ("replayed %zu inputs\n", inputs.size ());
  return inputs.empty () ? 1 : 0;
}
