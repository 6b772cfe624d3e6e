// Every file parbench writes (datasets, checkpoints, reports) is written to a temporary name next
// to its destination and renamed when complete, so a failed run never leaves a half-written file.
#pragma once

#include <filesystem>
#include <string_view>

namespace parbench {

class OutputFile {
 public:
  // Checks the destination before any work starts: its folder must exist and it must not exist
  // unless `overwrite` (--force). Throws parbench::Error naming the path otherwise.
  OutputFile(std::filesystem::path destination, bool overwrite);
  ~OutputFile();  // removes the temporary file unless commit() succeeded
  OutputFile(const OutputFile&) = delete;
  OutputFile& operator=(const OutputFile&) = delete;

  const std::filesystem::path& temporary() const { return temporary_; }
  const std::filesystem::path& destination() const { return destination_; }
  // Renames the temporary file onto the destination (atomic within one file system).
  void commit();

 private:
  std::filesystem::path destination_;
  std::filesystem::path temporary_;
  bool committed_ = false;
};

// The whole of `text` as a file, through an OutputFile: a failed write leaves no file.
void write_text_file(const std::filesystem::path& destination, std::string_view text, bool overwrite);

}  // namespace parbench
