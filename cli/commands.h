// The verbs of the `principia` binary. Each takes the arguments after the verb and returns the
// exit code; usage mistakes throw cli::UsageError, user errors throw principia::Error (exit 2).
#pragma once

#include <string>
#include <vector>

namespace principia::cli {

using Argv = std::vector<std::string>;

int cmd_train(const Argv& argv);      // cmd_train.cpp (train, sft, eval, plan share config handling)
int cmd_sft(const Argv& argv);
int cmd_eval(const Argv& argv);
int cmd_plan(const Argv& argv);
int cmd_export(const Argv& argv);     // cmd_model.cpp
int cmd_generate(const Argv& argv);
int cmd_score(const Argv& argv);      // cmd_score.cpp
int cmd_consensus(const Argv& argv);
int cmd_data(const Argv& argv);       // cmd_data.cpp
int cmd_tokenize(const Argv& argv);   // cmd_tokenize.cpp
int cmd_tokenizer(const Argv& argv);
int cmd_prompt(const Argv& argv);
int cmd_sweep(const Argv& argv);      // cmd_sweep.cpp

// Exit code of a verb whose module has not landed yet (README lists them).
inline constexpr int kNotLandedExit = 3;
int not_landed(const std::string& verb, const std::string& what);

}  // namespace principia::cli
