//! `deploy/install.sh` lays a machine out as the systemd units expect it:
//! checked under a scratch root (where it makes no user and changes no
//! owner), against the paths the units and the example configs name.

use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::Command;

fn mode(path: &Path) -> u32 {
    std::fs::metadata(path)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
        .permissions()
        .mode()
        & 0o777
}

#[test]
fn the_install_script_makes_every_file_the_units_and_configs_name() {
    let repo = Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap();
    let root = tempfile::tempdir().unwrap();
    let install = || {
        let out = Command::new("bash")
            .arg(repo.join("deploy/install.sh"))
            .arg("--binary")
            .arg(env!("CARGO_BIN_EXE_tessera"))
            .arg("--root")
            .arg(root.path())
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    };
    install();
    let at = |p: &str| root.path().join(p.trim_start_matches('/'));

    // Every file a unit starts or reads, with %i as the example instance.
    for unit in std::fs::read_dir(repo.join("deploy/systemd")).unwrap() {
        let unit = unit.unwrap().path();
        let text = std::fs::read_to_string(&unit).unwrap();
        let exec = text
            .lines()
            .find_map(|l| l.strip_prefix("ExecStart="))
            .unwrap_or_else(|| panic!("{} has no ExecStart", unit.display()));
        for word in exec.split_whitespace().filter(|w| w.starts_with('/')) {
            let path = at(&word.replace("%i", "disk1"));
            assert!(
                path.exists(),
                "{} names {word}, not installed",
                unit.display()
            );
        }
        assert!(
            at("etc/systemd/system")
                .join(unit.file_name().unwrap())
                .exists()
        );
    }
    // Every file and folder the installed configs name.
    for config in ["metadata.toml", "edge.toml", "storage-node-disk1.toml"] {
        let path = at("etc/tessera").join(config);
        assert_eq!(mode(&path), 0o640, "{config}");
        let text = std::fs::read_to_string(&path).unwrap();
        for line in text.lines().filter(|l| !l.trim_start().starts_with('#')) {
            let Some((key, value)) = line.split_once('=') else {
                continue;
            };
            let key = key.trim();
            if key.ends_with("_file") || key == "data_dir" {
                let value = value.trim().trim_matches('"');
                assert!(at(value).exists(), "{config}: {key} = {value} is not there");
            }
        }
    }
    let secret = at("etc/tessera/cluster-secret");
    assert_eq!(mode(&secret), 0o640);
    assert_eq!(mode(&at("etc/tessera")), 0o750);
    assert_eq!(mode(&at("srv/disk1/tessera")), 0o750);
    let first = std::fs::read(&secret).unwrap();
    assert!(first.len() >= 32);

    // A second run upgrades the binary and keeps every secret and config.
    std::fs::write(at("etc/tessera/edge.toml"), "# edited\n").unwrap();
    install();
    assert_eq!(std::fs::read(&secret).unwrap(), first);
    assert_eq!(
        std::fs::read_to_string(at("etc/tessera/edge.toml")).unwrap(),
        "# edited\n"
    );
}
