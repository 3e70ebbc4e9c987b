//! linux.resources to unit properties, v1 and v2, against runc's translations.

use super::*;

fn props(json: &str, v2: bool) -> Vec<(String, Value)> {
    let r: LinuxResources = serde_json::from_str(json).unwrap();
    resource_properties(&r, v2)
        .into_iter()
        .map(|p| (p.name, p.value))
        .collect()
}

fn t(name: &str, v: u64) -> (String, Value) {
    (name.to_string(), Value::U64(v))
}

fn bytes(name: &str, b: &[u8]) -> (String, Value) {
    (
        name.to_string(),
        Value::Array(Type::Byte, b.iter().map(|b| Value::Byte(*b)).collect()),
    )
}

const FULL: &str = r#"{
    "memory": {"limit": 1073741824, "reservation": 536870912, "swap": 2147483648},
    "cpu": {"shares": 1024, "quota": 50000, "period": 100000, "cpus": "0-3", "mems": "0"},
    "pids": {"limit": 100},
    "blockIO": {"weight": 500}
}"#;

#[test]
fn v2_properties() {
    assert_eq!(
        props(FULL, true),
        vec![
            t("MemoryMax", 1 << 30),
            t("MemoryLow", 1 << 29),
            t("MemorySwapMax", 1 << 30),
            t("CPUWeight", 100),
            t("CPUQuotaPeriodUSec", 100_000),
            t("CPUQuotaPerSecUSec", 500_000),
            t("TasksMax", 100),
            bytes("AllowedCPUs", &[0x0f]),
            bytes("AllowedMemoryNodes", &[1]),
        ]
    );
}

#[test]
fn v1_properties() {
    assert_eq!(
        props(FULL, false),
        vec![
            t("MemoryLimit", 1 << 30),
            t("CPUShares", 1024),
            t("CPUQuotaPeriodUSec", 100_000),
            t("CPUQuotaPerSecUSec", 500_000),
            t("BlockIOWeight", 500),
            t("TasksMax", 100),
            bytes("AllowedCPUs", &[0x0f]),
            bytes("AllowedMemoryNodes", &[1]),
        ]
    );
}

#[test]
fn unlimited_unset_and_invalid_values() {
    assert_eq!(props("{}", true), vec![]);
    // -1 is infinity; unlimited memory with swap unset makes swap unlimited too.
    assert_eq!(
        props(r#"{"memory":{"limit":-1},"pids":{"limit":-1}}"#, true),
        vec![
            t("MemoryMax", u64::MAX),
            t("MemorySwapMax", u64::MAX),
            t("TasksMax", u64::MAX)
        ]
    );
    // Swap below memory, swap without memory, a bad cpuset, pids 0: left to the fs path.
    assert_eq!(
        props(r#"{"memory":{"limit":100,"swap":50}}"#, true),
        vec![t("MemoryMax", 100)]
    );
    assert_eq!(props(r#"{"memory":{"swap":50}}"#, true), vec![]);
    assert_eq!(
        props(r#"{"cpu":{"cpus":"3-1"},"pids":{"limit":0}}"#, true),
        vec![]
    );
    // A quota without a period assumes 100 ms and rounds up to whole percents;
    // quota -1 with a period is unlimited.
    assert_eq!(
        props(r#"{"cpu":{"quota":12345}}"#, true),
        vec![t("CPUQuotaPerSecUSec", 130_000)]
    );
    assert_eq!(
        props(r#"{"cpu":{"quota":-1,"period":50000}}"#, false),
        vec![
            t("CPUQuotaPeriodUSec", 50_000),
            t("CPUQuotaPerSecUSec", u64::MAX)
        ]
    );
}

#[test]
fn unified_entries_on_v2_only() {
    let json = r#"{"unified":{"pids.max":"max","memory.high":"4096","cpu.max":"max",
        "cpu.weight":"50","cpuset.cpus":"1","memory.oom.group":"1","io.weight":"bad"}}"#;
    assert_eq!(
        props(json, true),
        vec![
            t("CPUQuotaPeriodUSec", 100_000),
            t("CPUQuotaPerSecUSec", u64::MAX),
            t("CPUWeight", 50),
            bytes("AllowedCPUs", &[2]),
            t("MemoryHigh", 4096),
            t("TasksMax", u64::MAX),
        ]
    );
    assert_eq!(props(json, false), vec![]);
    assert_eq!(
        props(r#"{"unified":{"cpu.max":"20000 50000"}}"#, true),
        vec![
            t("CPUQuotaPeriodUSec", 50_000),
            t("CPUQuotaPerSecUSec", 400_000)
        ]
    );
}

#[test]
fn shares_convert_like_runc() {
    let cases = [
        (0, 0),
        (2, 1),
        (1024, 100),
        (262_144, 10_000),
        (1_000_000, 10_000),
    ];
    for (shares, weight) in cases {
        assert_eq!(shares_to_weight(shares), weight, "{shares}");
    }
    assert!((2..262_144)
        .step_by(997)
        .all(|s| (1..=10_000).contains(&shares_to_weight(s))));
}

#[test]
fn cpusets_become_little_endian_bitmaps() {
    let cases: [(&str, &[u8]); 7] = [
        ("0", &[1]),
        ("0-7", &[0xff]),
        ("16", &[0, 0, 1]),
        ("0-3,32-33", &[0x0f, 0, 0, 0, 3]),
        (" , 1 , 3 , 5-7,\t", &[0xea]),
        (
            "1,128-130",
            &[2, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 7],
        ),
        ("8-9", &[0, 3]),
    ];
    for (list, want) in cases {
        assert_eq!(range_to_bits(list).as_deref(), Some(want), "{list:?}");
    }
    for bad in [
        "",
        ",",
        "-",
        "1-",
        "-3",
        "54-53",
        "1 - 2",
        "x",
        "0-4294967295",
        "9000",
    ] {
        assert_eq!(range_to_bits(bad), None, "{bad:?}");
    }
}

#[test]
fn unit_properties_for_scope_and_slice() {
    let scope = ScopeName {
        slice: "system.slice".into(),
        unit: "rt-c1.scope".into(),
    };
    let names: Vec<String> = unit_properties(&scope, 42, true)
        .into_iter()
        .map(|p| p.name)
        .collect();
    assert_eq!(
        names,
        [
            "Description",
            "Slice",
            "Delegate",
            "PIDs",
            "MemoryAccounting",
            "CPUAccounting",
            "IOAccounting",
            "TasksAccounting",
            "DefaultDependencies"
        ]
    );
    let slice = ScopeName {
        slice: "kubepods.slice".into(),
        unit: "kubepods-pod1.slice".into(),
    };
    let p = unit_properties(&slice, 42, false);
    assert_eq!(
        p[1],
        Property::new(
            "Wants",
            Value::Array(Type::Str, vec![Value::Str("kubepods.slice".into())])
        )
    );
    assert!(p.iter().any(|p| p.name == "BlockIOAccounting"));
    assert!(!p.iter().any(|p| p.name == "Delegate"));
}
