//! `asl`: run Amazon States Language state machines locally. See [`asl_engine::cli`].

fn main() -> std::process::ExitCode {
    asl_engine::cli::main()
}
