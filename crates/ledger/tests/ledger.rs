//! Import, export and round-trip tests for the ledger, written as data: a ledger text and
//! what must come out of it.

use chrono::NaiveDate;
use zhulao_domain::id_number::compose;
use zhulao_domain::{
    CapabilityLevel, EconomicStatus, Fen, GeoPoint, Hukou, LivingArrangement, RegionCode, Sex,
};
use zhulao_ledger::{
    ExportRow, Format, ImportLimits, LedgerError, MAX_BYTES, ParsedLedger, export_xlsx, parse_ledger,
    parse_ledger_with_limits, template_xlsx,
};

fn today() -> NaiveDate {
    NaiveDate::from_ymd_opt(2026, 11, 23).expect("valid date")
}

fn resolve(name: &str) -> Option<RegionCode> {
    let code = match name {
        "新建南路社区" => "140213001001",
        "向阳社区" => "140213001002",
        _ => return None,
    };
    RegionCode::parse("region_code", code).ok()
}

/// A valid ID number born on the given day.
fn id(y: i32, m: u32, d: u32, seq: u16) -> String {
    let birth = NaiveDate::from_ymd_opt(y, m, d).expect("valid date");
    compose("140213", birth, seq).expect("valid parts").as_str().to_string()
}

const HEADER: &str = "身份证号,姓名,联系电话,住址,纬度,经度,所属社区,区划代码,户籍,居住状况,经济状况,能力等级,\
慢性病,过敏史,用药,血型,家庭医生,紧急联系人1,联系人1关系,联系人1电话,紧急联系人2,联系人2关系,联系人2电话,\
紧急联系人3,联系人3关系,联系人3电话,服务卡号,服务卡余额(元)";

/// A full ledger of three elders, exercising every column.
fn full_ledger() -> String {
    let rows = [
        String::from(
            "11010519491231002X,王秀英,13812345678,平城区新建南路街道1号,40.0769,113.3001,新建南路社区,,城镇,独居,低保,2,\
\"高血压、糖尿病\",青霉素,\"二甲双胍;阿司匹林\",A,张医生,李明,儿子,13900000000,李芳,女儿,0352-1234567,赵强,侄子,13700000000,ZL0001,100.50",
        ),
        format!(
            "{},张建国,,向阳街8号,,,,140213001002,农村,空巢,,重度失能,,,,,,,,,,,,,,,,",
            id(1938, 2, 14, 11)
        ),
        format!(
            "{},刘桂兰,13512345678,平城区向阳街2号,,,向阳社区,,,与子女同住,特困,,冠心病，慢阻肺,,,O,,,,,,,,,,,,8元",
            id(1950, 6, 1, 124)
        ),
    ];
    format!("{HEADER}\n{}\n", rows.join("\n"))
}

fn parse(bytes: &[u8], format: Format) -> Result<ParsedLedger, LedgerError> {
    parse_ledger(bytes, format, today(), &resolve)
}

fn parse_csv(text: &str) -> ParsedLedger {
    match parse(text.as_bytes(), Format::Csv) {
        Ok(p) => p,
        Err(e) => panic!("whole-file error: {e}"),
    }
}

/// A header with just the required columns and a row builder for it.
const SHORT_HEADER: &str = "身份证号,姓名,电话,住址,所属社区,居住状况,能力等级";

fn short(rows: &[&str]) -> String {
    format!("{SHORT_HEADER}\n{}\n", rows.join("\n"))
}

/// Checks the row errors of a ledger: (row, column, code) for each, in order.
fn check_errors(text: &str, expected: &[(usize, &str, &str)]) -> ParsedLedger {
    let parsed = parse_csv(text);
    let got: Vec<(usize, &str, &str)> =
        parsed.errors.iter().map(|e| (e.row, e.column.as_str(), e.code)).collect();
    assert_eq!(got, expected, "errors: {:#?}", parsed.errors);
    parsed
}

#[test]
fn valid_csv_utf8_maps_every_column() {
    let parsed = parse_csv(&full_ledger());
    assert_eq!(parsed.errors, []);
    assert_eq!(parsed.warnings, Vec::<String>::new());
    assert_eq!(parsed.total_rows, 3);
    assert_eq!(parsed.rows.iter().map(|r| r.row).collect::<Vec<_>>(), [2, 3, 4]);

    let r = &parsed.rows[0].record;
    assert_eq!(r.id_number.as_str(), "11010519491231002X");
    assert_eq!(r.sex, Sex::Female);
    assert_eq!(r.name, "王秀英");
    assert_eq!(r.phone.as_ref().map(|p| p.as_str()), Some("13812345678"));
    assert_eq!(r.location, Some(GeoPoint { lat: 40.0769, lon: 113.3001 }));
    assert_eq!(r.region.as_str(), "140213001001");
    assert_eq!(
        (r.hukou, r.living, r.economic),
        (Hukou::Urban, LivingArrangement::Alone, EconomicStatus::Dibao)
    );
    assert_eq!(r.capability, CapabilityLevel::Moderate);
    assert_eq!(r.health.chronic_conditions, ["高血压", "糖尿病"]);
    assert_eq!(r.health.medications, ["二甲双胍", "阿司匹林"]);
    assert_eq!(r.health.allergies, ["青霉素"]);
    assert_eq!(r.health.blood_type.as_deref(), Some("A"));
    assert_eq!(r.health.family_doctor.as_deref(), Some("张医生"));
    let contacts: Vec<(&str, &str, &str)> =
        r.contacts.iter().map(|c| (c.name.as_str(), c.relation.as_str(), c.phone.as_str())).collect();
    assert_eq!(
        contacts,
        [("李明", "儿子", "13900000000"), ("李芳", "女儿", "0352-1234567"), ("赵强", "侄子", "13700000000")]
    );
    assert_eq!(r.card_no.as_deref(), Some("ZL0001"));
    assert_eq!(r.card_balance, Fen(10050));

    let r = &parsed.rows[1].record;
    assert_eq!(r.region.as_str(), "140213001002");
    assert_eq!(
        (r.hukou, r.living, r.economic),
        (Hukou::Rural, LivingArrangement::EmptyNest, EconomicStatus::General)
    );
    assert_eq!(r.capability, CapabilityLevel::Severe);
    assert_eq!((r.phone.is_none(), r.location, r.contacts.len()), (true, None, 0));
    assert_eq!(r.sex, Sex::Male);

    let r = &parsed.rows[2].record;
    assert_eq!(r.health.chronic_conditions, ["冠心病", "慢阻肺"]);
    assert_eq!(r.card_balance, Fen(800));
    assert_eq!(r.capability, CapabilityLevel::Intact);
}

#[test]
fn gbk_and_bom_decode_to_the_same_ledger() {
    let text = full_ledger();
    let utf8 = parse_csv(&text);
    let (gbk, _, unmappable) = encoding_rs::GBK.encode(&text);
    assert!(!unmappable);
    assert!(std::str::from_utf8(&gbk).is_err(), "the GBK bytes must not also be UTF-8");
    let mut bom = b"\xEF\xBB\xBF".to_vec();
    bom.extend_from_slice(text.as_bytes());
    for (what, bytes) in [("gbk", gbk.to_vec()), ("bom", bom)] {
        let parsed = parse(&bytes, Format::Csv).unwrap_or_else(|e| panic!("{what}: {e}"));
        assert_eq!(parsed, utf8, "{what}");
    }
}

#[test]
fn xlsx_export_reimports_every_field() {
    let original = parse_csv(&full_ledger());
    let rows: Vec<ExportRow> = original
        .rows
        .iter()
        .map(|r| ExportRow {
            region_name: "新建南路社区".into(),
            status: "在册".into(),
            ..ExportRow::from_record(&r.record, today())
        })
        .collect();
    let bytes = export_xlsx(&rows).expect("export");
    assert!(bytes.starts_with(b"PK\x03\x04"));
    let again = parse(&bytes, Format::Xlsx).expect("re-import");
    assert_eq!(again.errors, []);
    assert_eq!(again.warnings, Vec::<String>::new(), "exported columns are all recognised");
    assert_eq!(again.rows, original.rows, "round trip of every field, row numbers included");
}

#[test]
fn template_has_headers_and_a_valid_example() {
    let parsed = parse(&template_xlsx(), Format::Xlsx).expect("template parses");
    assert_eq!((parsed.total_rows, parsed.rows.len(), parsed.errors.len()), (1, 1, 0));
    assert_eq!(parsed.rows[0].row, 2);
    assert_eq!(parsed.rows[0].record.id_number.as_str(), "11010519491231002X");
}

#[test]
fn truncated_or_corrupt_xlsx_is_an_error_not_a_panic() {
    let bytes = export_xlsx(&[ExportRow::from_record(&parse_csv(&full_ledger()).rows[0].record, today())])
        .expect("export");
    for cut in [bytes.len() / 2, bytes.len() - 1, 4, 100, bytes.len() * 9 / 10] {
        match parse(&bytes[..cut], Format::Xlsx) {
            Err(e @ LedgerError::Xlsx { .. }) => {
                assert!(e.zh().contains("损坏"), "{e}");
                assert!(!e.en().is_empty());
            }
            other => panic!("cut at {cut}: {other:?}"),
        }
    }
    assert_eq!(parse(b"\xD0\xCF\x11\xE0\xA1\xB1\x1A\xE1rest", Format::Xlsx), Err(LedgerError::LegacyXls));
    assert!(matches!(parse(b"not a zip", Format::Xlsx), Err(LedgerError::Xlsx { .. })));
}

#[test]
fn bad_rows_are_reported_against_the_users_columns() {
    let good = id(1945, 3, 8, 21);
    let mut bad_check = id(1945, 3, 8, 23).into_bytes();
    bad_check[17] = if bad_check[17] == b'1' { b'2' } else { b'1' };
    let bad_check = String::from_utf8(bad_check).expect("ascii");
    let feb30 = "140213194502300020"; // 30 February
    let parsed = check_errors(
        &short(&[
            &format!("{bad_check},甲,,住址1,新建南路社区,独居,"),
            &format!("{feb30},乙,,住址2,新建南路社区,独居,"),
            &format!("{good},丙,,住址3,幸福村,独居,"),
            &format!("{},丁,,住址4,新建南路社区,露宿,", id(1946, 1, 1, 31)),
            &format!("{},戊,12345,住址5,新建南路社区,独居,9", id(1946, 1, 1, 41)),
            &format!("{},,,,,独居,", id(1946, 1, 1, 51)),
            &format!("{},己,13812345678,住址7,新建南路社区,独居,1", id(1946, 1, 1, 61)),
        ]),
        &[
            (2, "身份证号", "id_number_checksum"),
            (3, "身份证号", "id_number_birth_date"),
            (4, "所属社区", "unknown_community"),
            (5, "居住状况", "unknown_value"),
            (6, "电话", "phone_format"),
            (6, "能力等级", "unknown_value"),
            (7, "姓名", "required"),
            (7, "住址", "required"),
            (7, "所属社区", "required"),
        ],
    );
    assert_eq!(parsed.total_rows, 7);
    assert_eq!(parsed.rows.iter().map(|r| r.row).collect::<Vec<_>>(), [8]);

    // The user's header appears in the Chinese message; personal numbers are masked.
    let e = &parsed.errors[0];
    assert_eq!(e.value, format!("{}********{}", &bad_check[..6], &bad_check[14..]));
    assert!(!parsed.errors.iter().any(|e| e.value.contains("19450308")));
    assert_eq!(parsed.errors[4].value, "*****"); // a 5-digit phone is masked whole
    assert!(parsed.errors[4].zh.starts_with("电话"), "{}", parsed.errors[4].zh);
    assert_eq!(parsed.errors[2].value, "幸福村");
    assert!(parsed.errors[2].zh.contains("幸福村"));
    assert!(parsed.errors[3].zh.contains("独居"), "lists the accepted values");
}

#[test]
fn coordinates_contacts_and_money_errors() {
    let header =
        "身份证号,姓名,住址,区划代码,居住状况,纬度,经度,紧急联系人2,联系人2关系,联系人2电话,服务卡余额（元）";
    let row = |n: u16, rest: &str| format!("{},某,某地,140213001001,独居,{rest}", id(1950, 1, 1, n));
    let text = format!(
        "{header}\n{}\n{}\n{}\n{}\n{}\n{}\n",
        row(1, "四十,113.3,,,,"),
        row(3, "40.1,,,,,"),
        row(5, "95,113.3,,,,"),
        row(7, ",,李明,,13900000000,"),
        row(9, ",,,,,-5"),
        row(11, ",,,,,1.234"),
    );
    check_errors(
        &text,
        &[
            (2, "纬度", "number_format"),
            (3, "纬度", "coordinates"),
            (4, "纬度", "coordinates"),
            (5, "联系人2关系", "required"),
            (6, "服务卡余额（元）", "negative"),
            (7, "服务卡余额（元）", "money_format"),
        ],
    );
}

#[test]
fn duplicate_id_numbers_after_the_first_are_errors() {
    let lower_x = "11010519491231002x";
    let parsed = check_errors(
        &short(&[
            "11010519491231002X,甲,,住址,新建南路社区,独居,",
            &format!("{},乙,,住址,新建南路社区,独居,", id(1950, 1, 1, 1)),
            "11010519491231002X,丙,,住址,新建南路社区,独居,",
            &format!("{lower_x},丁,,住址,新建南路社区,露宿,"),
        ]),
        &[
            (4, "身份证号", "duplicate_id_number"),
            (5, "身份证号", "duplicate_id_number"),
            (5, "居住状况", "unknown_value"),
        ],
    );
    assert_eq!(parsed.rows.iter().map(|r| r.row).collect::<Vec<_>>(), [2, 3]);
    assert_eq!(parsed.errors[0].zh, "与第2行身份证号重复");
    assert_eq!(parsed.errors[1].zh, "与第2行身份证号重复");
    assert_eq!(parsed.errors[0].value, "110105********002X");
}

#[test]
fn missing_required_columns_name_the_column() {
    let check = |header: &str, column: &str| {
        let text = format!("{header}\n{},甲\n", id(1950, 1, 1, 1));
        match parse(text.as_bytes(), Format::Csv) {
            Err(LedgerError::MissingColumn { column: got }) => assert_eq!(got, column, "{header}"),
            other => panic!("{header}: {other:?}"),
        }
    };
    check("姓名,住址,所属社区,居住状况", "身份证号");
    check("身份证号,住址,所属社区,居住状况", "姓名");
    check("身份证号,姓名,所属社区,居住状况", "住址");
    check("身份证号,姓名,住址,所属社区", "居住状况");
    check("身份证号,姓名,住址,居住状况", "所属社区 或 区划代码");
    let e = parse("身份证号,姓名,住址,所属社区\n".as_bytes(), Format::Csv).unwrap_err();
    assert_eq!(e.zh(), "缺少必填列：居住状况");
    assert_eq!(e.code(), "missing_column");
}

#[test]
fn headers_accept_synonyms_english_codes_and_a_title_row() {
    let text = format!(
        "平城区新建南路社区老年人台账（2026年）,,,,\n\n id_number ,NAME,地址,村（居）委会,居住情况,备注,序号\n{},甲,某地,向阳社区,空巢,腿脚不便,1\n",
        id(1950, 1, 1, 1)
    );
    let parsed = parse_csv(&text);
    assert_eq!(parsed.errors, []);
    assert_eq!(parsed.rows.len(), 1);
    assert_eq!(parsed.rows[0].row, 4);
    assert_eq!(parsed.rows[0].record.region.as_str(), "140213001002");
    assert_eq!(parsed.warnings, ["已忽略未识别的列“备注” / ignored unknown column '备注'"]);
}

#[test]
fn the_same_column_twice_is_a_file_error() {
    let e = parse("身份证号,姓名,电话,联系电话,住址,社区,居住状况\n".as_bytes(), Format::Csv).unwrap_err();
    assert_eq!(e, LedgerError::DuplicateColumn { first: "电话".into(), second: "联系电话".into() });
}

#[test]
fn blank_rows_are_skipped_and_row_numbers_kept() {
    let text = format!(
        "{SHORT_HEADER}\n\n,,,,,,\n{},甲,,住址,新建南路社区,独居,\n   \n{},乙,,住址,新建南路社区,露宿,\n,,\n",
        id(1950, 1, 1, 1),
        id(1950, 1, 1, 3)
    );
    let parsed = check_errors(&text, &[(6, "居住状况", "unknown_value")]);
    assert_eq!(parsed.total_rows, 2);
    assert_eq!(parsed.rows[0].row, 4);
}

#[test]
fn whole_file_errors() {
    let check = |bytes: &[u8], limits: ImportLimits, expected: &str| {
        let got = parse_ledger_with_limits(bytes, Format::Csv, today(), &resolve, &limits);
        match got {
            Err(e) => {
                assert_eq!(e.code(), expected, "{e}");
                assert!(!e.zh().is_empty() && !e.en().is_empty());
            }
            Ok(p) => panic!("expected {expected}, got {p:?}"),
        }
    };
    let defaults = ImportLimits::default();
    check(&vec![b','; MAX_BYTES + 1], defaults, "file_too_large");
    check(b"a,b\n", ImportLimits { max_bytes: 3, ..defaults }, "file_too_large");
    let three = short(&[
        &format!("{},甲,,住址,新建南路社区,独居,", id(1950, 1, 1, 1)),
        &format!("{},乙,,住址,新建南路社区,独居,", id(1950, 1, 1, 3)),
        &format!("{},丙,,住址,新建南路社区,独居,", id(1950, 1, 1, 5)),
    ]);
    check(three.as_bytes(), ImportLimits { max_rows: 2, ..defaults }, "too_many_rows");
    check(b"\x81\x30\xFF\xFE\x00\x80garbage\xFF", defaults, "encoding");
    check(b"\xFF\xFE\x6B\x8D", defaults, "encoding_utf16");
    check(b"", defaults, "empty");
    check(b"\n\n,,,\n", defaults, "empty");
    check("姓名,年龄\n张三,80\n".as_bytes(), defaults, "missing_column");
    // Exactly at the row limit is fine.
    let ok = parse_ledger_with_limits(
        three.as_bytes(),
        Format::Csv,
        today(),
        &resolve,
        &ImportLimits { max_rows: 3, ..defaults },
    );
    assert_eq!(ok.map(|p| p.rows.len()), Ok(3));
}

/// Builds an .xlsx by hand, for cells that Excel users produce but our export never writes.
fn xlsx_with(
    write: impl FnOnce(&mut rust_xlsxwriter::Worksheet) -> Result<(), rust_xlsxwriter::XlsxError>,
) -> Vec<u8> {
    let mut book = rust_xlsxwriter::Workbook::new();
    let sheet = book.add_worksheet();
    for (c, h) in SHORT_HEADER.split(',').enumerate() {
        sheet.write_string(0, c as u16, h).expect("header");
    }
    write(sheet).expect("cells");
    book.save_to_buffer().expect("workbook")
}

#[test]
fn numbers_excel_made_of_id_numbers_and_phones() {
    let bytes = xlsx_with(|s| {
        // Row 2: an ID number typed as a number (Excel keeps 15 significant digits).
        s.write_number(1, 0, 110105194912310020.0)?;
        s.write_string(1, 1, "甲")?.write_string(1, 3, "住址")?.write_string(1, 4, "向阳社区")?;
        s.write_string(1, 5, "独居")?;
        // Row 3: a phone and a capability level stored as numbers are fine.
        s.write_string(2, 0, id(1950, 1, 1, 1))?.write_string(2, 1, "乙")?;
        s.write_number(2, 2, 13812345678.0)?.write_string(2, 3, "住址")?;
        s.write_string(2, 4, "向阳社区")?.write_string(2, 5, "独居")?.write_number(2, 6, 3.0)?;
        Ok(())
    });
    let parsed = parse(&bytes, Format::Xlsx).expect("parses");
    let got: Vec<(usize, &str, &str)> =
        parsed.errors.iter().map(|e| (e.row, e.column.as_str(), e.code)).collect();
    assert_eq!(got, [(2, "身份证号", "id_number_not_text")]);
    assert!(parsed.errors[0].zh.contains("文本格式"));
    assert!(!parsed.errors[0].value.contains("1949"), "masked: {}", parsed.errors[0].value);
    assert_eq!(parsed.rows.len(), 1);
    let r = &parsed.rows[0].record;
    assert_eq!(r.phone.as_ref().map(|p| p.as_str()), Some("13812345678"));
    assert_eq!(r.capability, CapabilityLevel::Severe);
}

#[test]
fn zip_content_is_read_as_xlsx_whatever_the_claimed_format() {
    let parsed = parse(&template_xlsx(), Format::Csv).expect("sniffed as xlsx");
    assert_eq!(parsed.rows.len(), 1);
}

#[test]
fn format_detection() {
    let check = |name: Option<&str>, bytes: &[u8], expected: Format| {
        assert_eq!(Format::detect(name, bytes), expected, "{name:?}");
    };
    check(Some("台账.XLSX"), b"PK\x03\x04", Format::Xlsx);
    check(Some("台账.csv"), b"PK\x03\x04", Format::Xlsx);
    check(Some("台账.csv"), b"a,b", Format::Csv);
    check(Some("台账.xlsx"), b"a,b", Format::Xlsx);
    check(None, b"a,b", Format::Csv);
    assert_eq!(Format::from_filename("a.xls"), None);
    assert_eq!(Format::from_filename("noext"), None);
    assert_eq!(Format::from_filename("x.Csv"), Some(Format::Csv));
}

mod never_panics {
    use proptest::prelude::*;

    use super::*;

    fn exported() -> Vec<u8> {
        let rows: Vec<ExportRow> = parse_csv(&full_ledger())
            .rows
            .iter()
            .map(|r| ExportRow::from_record(&r.record, today()))
            .collect();
        export_xlsx(&rows).unwrap_or_default()
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(256))]

        #[test]
        fn on_random_bytes(bytes in proptest::collection::vec(any::<u8>(), 0..2048)) {
            let _ = parse(&bytes, Format::Csv);
            let _ = parse(&bytes, Format::Xlsx);
            let mut zip = b"PK\x03\x04".to_vec();
            zip.extend_from_slice(&bytes);
            let _ = parse(&zip, Format::Xlsx);
        }

        #[test]
        fn on_random_cells_under_a_real_header(cells in proptest::collection::vec("[0-9Xx,、;\" \n.\\-一-龥]{0,24}", 0..40)) {
            let text = format!("{HEADER}\n{}", cells.join(","));
            let _ = parse(text.as_bytes(), Format::Csv);
        }

        #[test]
        fn on_a_damaged_export(flips in proptest::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..8)) {
            let mut bytes = exported();
            for (at, byte) in flips {
                let i = at.index(bytes.len());
                bytes[i] = byte;
            }
            let _ = parse(&bytes, Format::Xlsx);
        }
    }
}

/// Rewrites the sheet XML of a workbook (stored uncompressed), for cells no writer makes.
fn edit_sheet(xlsx: &[u8], edit: impl Fn(&str) -> String) -> Vec<u8> {
    use std::io::{Cursor, Read, Write};
    let mut archive = zip::ZipArchive::new(Cursor::new(xlsx)).expect("zip");
    let mut out = zip::ZipWriter::new(Cursor::new(Vec::new()));
    let stored = zip::write::SimpleFileOptions::default().compression_method(zip::CompressionMethod::Stored);
    for i in 0..archive.len() {
        let mut file = archive.by_index(i).expect("entry");
        let name = file.name().to_string();
        let mut content = String::new();
        file.read_to_string(&mut content).expect("xml");
        if name == "xl/worksheets/sheet1.xml" {
            content = edit(&content);
        }
        out.start_file(name, stored).expect("start");
        out.write_all(content.as_bytes()).expect("write");
    }
    out.finish().expect("finish").into_inner()
}

#[test]
fn a_shared_string_index_out_of_range_is_an_error_not_a_crash() {
    // calamine 0.31 indexes the shared-string table unchecked; the importer must survive it.
    let bytes = edit_sheet(&template_xlsx(), |xml| {
        let at = xml.find("t=\"s\"><v>").map_or(0, |i| i + "t=\"s\"><v>".len());
        let end = xml[at..].find('<').map_or(at, |i| at + i);
        format!("{}99999{}", &xml[..at], &xml[end..])
    });
    assert!(matches!(parse(&bytes, Format::Xlsx), Err(LedgerError::Xlsx { .. })));
}

#[test]
fn an_excel_error_value_is_reported() {
    // Replace the example's 姓名 (王秀英, a shared string) with a cached #N/A formula result.
    let template = template_xlsx();
    let plain = parse(&template, Format::Xlsx).expect("template");
    assert_eq!(plain.rows.len(), 1);
    let bytes = edit_sheet(&template, |xml| {
        let Some(start) = xml.find("<c r=\"B2\"") else { return xml.to_string() };
        let end = xml[start..].find("</c>").map_or(start, |i| start + i + "</c>".len());
        format!("{}<c r=\"B2\" t=\"e\"><v>#N/A</v></c>{}", &xml[..start], &xml[end..])
    });
    let parsed = parse(&bytes, Format::Xlsx).expect("parses");
    let got: Vec<(usize, &str, &str, &str)> =
        parsed.errors.iter().map(|e| (e.row, e.column.as_str(), e.code, e.value.as_str())).collect();
    assert_eq!(got, [(2, "姓名", "cell_error", "#N/A")]);
    assert!(parsed.rows.is_empty());
}
