// Every file parbench writes (datasets, checkpoints, reports) is written to a temporary name next
// to its destination and renamed when complete, so a failed run never leaves a half-written file.
#pragma once

#include <filesystem>
#include <memory>
#include <string_view>
#include <vector>

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
  // Renames the temporary file onto the destination (atomic within one file system). Throws
  // interrupt::Interrupted instead when a signal asked the process to stop: an interrupted run
  // creates no destination, even when the write itself had finished.
  void commit();
  // Commits several files as one: an interrupt is honoured before the first rename, never between
  // two, so the set is all new or all old.
  static void commit_together(const std::vector<std::unique_ptr<OutputFile>>& files);

 private:
  void rename_now();

  std::filesystem::path destination_;
  std::filesystem::path temporary_;
  bool committed_ = false;
};

// Writes `text` to `path` (an OutputFile's temporary) and closes it; a failure (a full disk) throws
// parbench::Error naming `name`, the file the user asked for.
void write_whole_file(const std::filesystem::path& path, std::string_view text, const std::filesystem::path& name);

// The whole of `text` as a file, through an OutputFile: a failed write leaves no file.
void write_text_file(const std::filesystem::path& destination, std::string_view text, bool overwrite);

}  // namespace parbench
