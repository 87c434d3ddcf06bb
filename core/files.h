// Whole-file reads and crash-safe writes: write to a temp file in the same directory, fsync,
// rename over the target, fsync the directory. A reader sees the old file or the new one.
#pragma once

#include <string>
#include <string_view>

namespace principia {

std::string read_file(const std::string& path);  // throws principia::Error naming the file
void write_file_atomic(const std::string& path, std::string_view bytes);
// Writes in place and fsyncs; for files inside a staging directory that is renamed as a whole.
void write_file_synced(const std::string& path, std::string_view bytes);
void fsync_path(const std::string& path);  // a file or a directory
// Renames `from` over `to` (both in one filesystem) and fsyncs the parent directory.
void rename_durable(const std::string& from, const std::string& to);

}  // namespace principia
