// One writer per run directory: an exclusive advisory flock on RUN/.lock, held for the life of
// the process. The kernel releases it when the process dies (SIGKILL included), so a killed run
// never leaves a stale lock behind; the file only names the last holder.
#pragma once

#include <string>

namespace principia {

class RunDirLock {
 public:
  // Creates `run_dir` if needed and takes the lock, writing "pid <N> host <H>" into the file.
  // Throws principia::Error naming the holder's pid and host when another process holds it.
  explicit RunDirLock(const std::string& run_dir);
  ~RunDirLock();
  RunDirLock(const RunDirLock&) = delete;
  RunDirLock& operator=(const RunDirLock&) = delete;

  const std::string& path() const { return path_; }

 private:
  std::string path_;
  int fd_ = -1;
};

// Whether a process with this pid runs on this host (kill(pid, 0)); the current process counts.
bool process_alive(long pid);

}  // namespace principia
