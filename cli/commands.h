#pragma once

namespace mdcsrn::cli {

// Each returns the process exit code; errors are thrown as mdcsrn::Error.
int run_prepare(int argc, char** argv);
int run_train(int argc, char** argv);
int run_eval(int argc, char** argv);
int run_infer(int argc, char** argv);
int run_demo(int argc, char** argv);
int run_age(int argc, char** argv);

}  // namespace mdcsrn::cli
