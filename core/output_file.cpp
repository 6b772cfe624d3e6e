// OutputFile: temporary name "<dest>.tmp.<pid>" in the destination's folder, renamed on commit.
#include "core/output_file.h"

#include <unistd.h>

#include <cerrno>
#include <fstream>
#include <system_error>
#include <utility>

#include <fmt/format.h>

#include "core/error.h"
#include "core/interrupt.h"

namespace parbench {

namespace fs = std::filesystem;

OutputFile::OutputFile(fs::path destination, bool overwrite) : destination_(std::move(destination)) {
  if (destination_.empty()) raise("output path is empty");
  const fs::path folder = destination_.has_parent_path() ? destination_.parent_path() : fs::path(".");
  std::error_code ec;
  if (!fs::is_directory(folder, ec)) {
    raise("cannot write {}: folder {} does not exist (create it first)", destination_.string(), folder.string());
  }
  if (fs::is_directory(destination_, ec)) raise("cannot write {}: it is a folder", destination_.string());
  if (fs::exists(destination_, ec) && !overwrite) {
    raise("{} exists already; refusing to overwrite it (pass --force to replace it)", destination_.string());
  }
  temporary_ = destination_;
  temporary_ += fmt::format(".tmp.{}", ::getpid());
}

OutputFile::~OutputFile() {
  if (committed_) return;
  std::error_code ec;
  fs::remove(temporary_, ec);
}

void OutputFile::commit() {
  interrupt::hold_output_for_test();
  interrupt::throw_if_interrupted();
  rename_now();
}

void OutputFile::commit_together(const std::vector<std::unique_ptr<OutputFile>>& files) {
  interrupt::hold_output_for_test();
  interrupt::throw_if_interrupted();
  for (const auto& file : files) file->rename_now();
}

void OutputFile::rename_now() {
  std::error_code ec;
  fs::rename(temporary_, destination_, ec);
  if (ec) raise("cannot rename {} to {}: {}", temporary_.string(), destination_.string(), ec.message());
  committed_ = true;
}

void write_whole_file(const fs::path& path, std::string_view text, const fs::path& name) {
  std::ofstream stream(path, std::ios::binary);
  stream << text;
  // A full disk often shows only when the buffer is written out: close() before judging the stream.
  stream.close();
  if (!stream) raise("cannot write {}: {}", name.string(), std::generic_category().message(errno));
}

void write_text_file(const fs::path& destination, std::string_view text, bool overwrite) {
  OutputFile out(destination, overwrite);
  write_whole_file(out.temporary(), text, destination);
  out.commit();
}

}  // namespace parbench
