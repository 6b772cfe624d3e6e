// OutputFile: refuse bad destinations before work starts; nothing left behind unless committed.
#include <gtest/gtest.h>

#include <fstream>

#include "core/error.h"
#include "core/output_file.h"
#include "test_util.h"

namespace {

using parbench::OutputFile;
using parbench::test::TempDir;

void write_text(const std::filesystem::path& path, const std::string& text) { std::ofstream(path) << text; }

TEST(OutputFile, MissingFolderIsRefusedWithItsName) {
  TempDir dir;
  try {
    OutputFile out(dir / "missing/out.h5", false);
    FAIL() << "no error";
  } catch (const parbench::Error& error) {
    EXPECT_NE(std::string(error.what()).find("missing"), std::string::npos) << error.what();
    EXPECT_NE(std::string(error.what()).find("does not exist"), std::string::npos) << error.what();
  }
}

TEST(OutputFile, ExistingFileNeedsForce) {
  TempDir dir;
  write_text(dir / "out.h5", "old");
  EXPECT_THROW(OutputFile(dir / "out.h5", false), parbench::Error);
  try {
    OutputFile out(dir / "out.h5", false);
  } catch (const parbench::Error& error) {
    EXPECT_NE(std::string(error.what()).find("--force"), std::string::npos) << error.what();
  }
  OutputFile out(dir / "out.h5", true);
  write_text(out.temporary(), "new");
  out.commit();
  std::ifstream in(dir / "out.h5");
  std::string text;
  in >> text;
  EXPECT_EQ(text, "new");
  EXPECT_EQ(dir.files(), std::vector<std::string>{"out.h5"});
}

TEST(OutputFile, UncommittedTemporaryIsRemoved) {
  TempDir dir;
  {
    OutputFile out(dir / "out.h5", false);
    write_text(out.temporary(), "partial");
    EXPECT_EQ(out.temporary().parent_path(), dir.path());
  }
  EXPECT_TRUE(dir.files().empty());
}

TEST(OutputFile, FolderAsDestinationIsRefused) {
  TempDir dir;
  std::filesystem::create_directory(dir / "sub");
  EXPECT_THROW(OutputFile(dir / "sub", true), parbench::Error);
}

}  // namespace
