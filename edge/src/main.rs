fn main() -> anyhow::Result<()> {
    edge::cli::main()
}
