//! Languages by their own names: the caption label a viewer picks from the player's
//! menu is the language's name in that language ("Deutsch", "日本語"), as Cloudflare
//! labels them. Every two-letter (ISO 639-1) code of the IANA language subtag registry
//! that the registry does not deprecate (so `iw`, `in`, `ji` are refused in favour of
//! `he`, `id`, `yi`), and the ISO 639-2/3 codes of languages with no two-letter code
//! that captions are commonly made in. A three-letter code is not a valid BCP 47
//! language where a two-letter one exists: `fra` is refused, `fr` accepted. Names follow
//! the Unicode CLDR's where it has the language, capitalised as a menu entry is.
//!
//! Sorted by code, so lookups are a binary search (checked by a test).

/// `(code, name in the language itself)`.
pub(crate) const LANGUAGES: &[(&str, &str)] = &[
    ("aa", "Qafar"),
    ("ab", "Аԥсшәа"),
    ("ace", "Bahsa Acèh"),
    ("ae", "Avesta"),
    ("af", "Afrikaans"),
    ("ak", "Akan"),
    ("am", "አማርኛ"),
    ("an", "Aragonés"),
    ("ang", "Ænglisc"),
    ("ar", "العربية"),
    ("arz", "مصرى"),
    ("as", "অসমীয়া"),
    ("ast", "Asturianu"),
    ("av", "Авар мацӀ"),
    ("ay", "Aymar aru"),
    ("az", "Azərbaycan"),
    ("ba", "Башҡорт теле"),
    ("bal", "بلۏچی"),
    ("ban", "Basa Bali"),
    ("bar", "Boarisch"),
    ("be", "Беларуская"),
    ("bem", "Ichibemba"),
    ("bg", "Български"),
    ("bh", "बिहारी"),
    ("bho", "भोजपुरी"),
    ("bi", "Bislama"),
    ("bm", "Bamanakan"),
    ("bn", "বাংলা"),
    ("bo", "བོད་སྐད་"),
    ("br", "Brezhoneg"),
    ("bs", "Bosanski"),
    ("ca", "Català"),
    ("ce", "Нохчийн"),
    ("ceb", "Cebuano"),
    ("ch", "Chamoru"),
    ("chr", "ᏣᎳᎩ"),
    ("ckb", "کوردیی ناوەندی"),
    ("cmn", "普通话"),
    ("co", "Corsu"),
    ("cr", "ᓀᐦᐃᔭᐍᐏᐣ"),
    ("crh", "Qırımtatarca"),
    ("cs", "Čeština"),
    ("csb", "Kaszëbsczi"),
    ("cu", "Словѣньскъ"),
    ("cv", "Чӑвашла"),
    ("cy", "Cymraeg"),
    ("da", "Dansk"),
    ("de", "Deutsch"),
    ("doi", "डोगरी"),
    ("dsb", "Dolnoserbšćina"),
    ("dv", "ދިވެހިބަސް"),
    ("dz", "རྫོང་ཁ"),
    ("ee", "Eʋegbe"),
    ("el", "Ελληνικά"),
    ("en", "English"),
    ("eo", "Esperanto"),
    ("es", "Español"),
    ("et", "Eesti"),
    ("eu", "Euskara"),
    ("fa", "فارسی"),
    ("ff", "Pulaar"),
    ("fi", "Suomi"),
    ("fil", "Filipino"),
    ("fj", "Vosa Vakaviti"),
    ("fo", "Føroyskt"),
    ("fon", "Fɔ̀ngbè"),
    ("fr", "Français"),
    ("fur", "Furlan"),
    ("fy", "Frysk"),
    ("ga", "Gaeilge"),
    ("gd", "Gàidhlig"),
    ("gl", "Galego"),
    ("gn", "Avañe'ẽ"),
    ("grc", "Ἀρχαία Ἑλληνικὴ"),
    ("gsw", "Schwiizertüütsch"),
    ("gu", "ગુજરાતી"),
    ("gv", "Gaelg"),
    ("ha", "Hausa"),
    ("hak", "客家話"),
    ("haw", "ʻŌlelo Hawaiʻi"),
    ("he", "עברית"),
    ("hi", "हिन्दी"),
    ("hil", "Hiligaynon"),
    ("hmn", "Hmoob"),
    ("ho", "Hiri Motu"),
    ("hr", "Hrvatski"),
    ("hsb", "Hornjoserbšćina"),
    ("ht", "Kreyòl ayisyen"),
    ("hu", "Magyar"),
    ("hy", "Հայերեն"),
    ("hz", "Otjiherero"),
    ("ia", "Interlingua"),
    ("id", "Bahasa Indonesia"),
    ("ie", "Interlingue"),
    ("ig", "Igbo"),
    ("ii", "ꆈꌠꉙ"),
    ("ik", "Iñupiaq"),
    ("ilo", "Ilokano"),
    ("io", "Ido"),
    ("is", "Íslenska"),
    ("it", "Italiano"),
    ("iu", "ᐃᓄᒃᑎᑐᑦ"),
    ("ja", "日本語"),
    ("jbo", "La .lojban."),
    ("jv", "Basa Jawa"),
    ("ka", "ქართული"),
    ("kab", "Taqbaylit"),
    ("kg", "Kikongo"),
    ("ki", "Gĩkũyũ"),
    ("kj", "Oshikwanyama"),
    ("kk", "Қазақ тілі"),
    ("kl", "Kalaallisut"),
    ("km", "ខ្មែរ"),
    ("kmr", "Kurmancî"),
    ("kn", "ಕನ್ನಡ"),
    ("ko", "한국어"),
    ("kok", "कोंकणी"),
    ("kr", "Kanuri"),
    ("kri", "Krio"),
    ("ks", "کٲشُر"),
    ("ksh", "Kölsch"),
    ("ku", "Kurdî"),
    ("kv", "Коми кыв"),
    ("kw", "Kernewek"),
    ("ky", "Кыргызча"),
    ("la", "Latina"),
    ("lad", "Djudeo-espanyol"),
    ("lb", "Lëtzebuergesch"),
    ("lg", "Luganda"),
    ("li", "Limburgs"),
    ("lij", "Ligure"),
    ("lkt", "Lakȟólʼiyapi"),
    ("lmo", "Lombard"),
    ("ln", "Lingála"),
    ("lo", "ລາວ"),
    ("lt", "Lietuvių"),
    ("lu", "Tshiluba"),
    ("luo", "Dholuo"),
    ("lus", "Mizo ṭawng"),
    ("lv", "Latviešu"),
    ("mai", "मैथिली"),
    ("mfe", "Kreol morisien"),
    ("mg", "Malagasy"),
    ("mh", "Kajin M̧ajeļ"),
    ("mi", "Māori"),
    ("min", "Baso Minangkabau"),
    ("mk", "Македонски"),
    ("ml", "മലയാളം"),
    ("mn", "Монгол"),
    ("moh", "Kanienʼkéha"),
    ("mr", "मराठी"),
    ("ms", "Bahasa Melayu"),
    ("mt", "Malti"),
    ("my", "မြန်မာ"),
    ("na", "Dorerin Naoero"),
    ("nan", "閩南語"),
    ("nap", "Napulitano"),
    ("nb", "Norsk bokmål"),
    ("nd", "IsiNdebele"),
    ("nds", "Plattdüütsch"),
    ("ne", "नेपाली"),
    ("new", "नेपाल भाषा"),
    ("ng", "Oshindonga"),
    ("nl", "Nederlands"),
    ("nn", "Norsk nynorsk"),
    ("no", "Norsk"),
    ("nqo", "ߒߞߏ"),
    ("nr", "IsiNdebele seSewula"),
    ("nso", "Sesotho sa Leboa"),
    ("nv", "Diné bizaad"),
    ("ny", "Chichewa"),
    ("oc", "Occitan"),
    ("oj", "ᐊᓂᔑᓈᐯᒧᐎᓐ"),
    ("om", "Oromoo"),
    ("or", "ଓଡ଼ିଆ"),
    ("os", "Ирон"),
    ("pa", "ਪੰਜਾਬੀ"),
    ("pam", "Kapampangan"),
    ("pcm", "Naijíriá Píjin"),
    ("pi", "पालि"),
    ("pl", "Polski"),
    ("pms", "Piemontèis"),
    ("pnb", "پنجابی"),
    ("prs", "دری"),
    ("ps", "پښتو"),
    ("pt", "Português"),
    ("qu", "Runasimi"),
    ("rm", "Rumantsch"),
    ("rn", "Ikirundi"),
    ("ro", "Română"),
    ("rom", "Romani"),
    ("ru", "Русский"),
    ("rw", "Kinyarwanda"),
    ("sa", "संस्कृतम्"),
    ("sah", "Саха тыла"),
    ("sat", "ᱥᱟᱱᱛᱟᱲᱤ"),
    ("sc", "Sardu"),
    ("scn", "Sicilianu"),
    ("sco", "Scots"),
    ("sd", "سنڌي"),
    ("se", "Davvisámegiella"),
    ("sg", "Sängö"),
    ("sh", "Srpskohrvatski"),
    ("shi", "ⵜⴰⵛⵍⵃⵉⵜ"),
    ("si", "සිංහල"),
    ("sk", "Slovenčina"),
    ("sl", "Slovenščina"),
    ("sm", "Gagana Sāmoa"),
    ("sma", "Åarjelsaemien gïele"),
    ("smj", "Julevsámegiella"),
    ("smn", "Anarâškielâ"),
    ("sms", "Sääʹmǩiõll"),
    ("sn", "ChiShona"),
    ("so", "Soomaali"),
    ("sq", "Shqip"),
    ("sr", "Српски"),
    ("ss", "SiSwati"),
    ("st", "Sesotho"),
    ("su", "Basa Sunda"),
    ("sv", "Svenska"),
    ("sw", "Kiswahili"),
    ("syr", "ܣܘܪܝܝܐ"),
    ("szl", "Ślōnski"),
    ("ta", "தமிழ்"),
    ("te", "తెలుగు"),
    ("tet", "Tetun"),
    ("tg", "Тоҷикӣ"),
    ("th", "ไทย"),
    ("ti", "ትግርኛ"),
    ("tk", "Türkmen dili"),
    ("tl", "Tagalog"),
    ("tlh", "tlhIngan Hol"),
    ("tn", "Setswana"),
    ("to", "Lea fakatonga"),
    ("tpi", "Tok Pisin"),
    ("tr", "Türkçe"),
    ("ts", "Xitsonga"),
    ("tt", "Татар"),
    ("tw", "Twi"),
    ("ty", "Reo Tahiti"),
    ("tzm", "Tamaziɣt"),
    ("ug", "ئۇيغۇرچە"),
    ("uk", "Українська"),
    ("ur", "اردو"),
    ("uz", "Oʻzbekcha"),
    ("ve", "Tshivenḓa"),
    ("vec", "Vèneto"),
    ("vi", "Tiếng Việt"),
    ("vo", "Volapük"),
    ("wa", "Walon"),
    ("war", "Winaray"),
    ("wo", "Wolof"),
    ("wuu", "吴语"),
    ("xh", "IsiXhosa"),
    ("yi", "ייִדיש"),
    ("yo", "Èdè Yorùbá"),
    ("yue", "粵語"),
    ("za", "Vahcuengh"),
    ("zgh", "ⵜⴰⵎⴰⵣⵉⵖⵜ"),
    ("zh", "中文"),
    ("zu", "IsiZulu"),
];

/// Names that depend on the script as well: `(language, script, name)`. Sorted.
pub(crate) const WITH_SCRIPT: &[(&str, &str, &str)] = &[
    ("az", "Cyrl", "Азәрбајҹан"),
    ("bs", "Cyrl", "Босански"),
    ("ks", "Deva", "कॉशुर"),
    ("pa", "Arab", "پنجابی"),
    ("sd", "Deva", "सिन्धी"),
    ("sr", "Cyrl", "Српски"),
    ("sr", "Latn", "Srpski"),
    ("uz", "Arab", "اوزبیک"),
    ("uz", "Cyrl", "Ўзбекча"),
    ("zh", "Hans", "简体中文"),
    ("zh", "Hant", "繁體中文"),
];

/// The language's own name, for a lowercase code.
pub(crate) fn name(code: &str) -> Option<&'static str> {
    LANGUAGES
        .binary_search_by(|(c, _)| (*c).cmp(code))
        .ok()
        .map(|i| LANGUAGES[i].1)
}

/// The name of the language written in this script, for a lowercase code and a
/// titlecase script, when it differs from [`name`].
pub(crate) fn name_in_script(code: &str, script: &str) -> Option<&'static str> {
    WITH_SCRIPT
        .binary_search_by(|(c, s, _)| (*c, *s).cmp(&(code, script)))
        .ok()
        .map(|i| WITH_SCRIPT[i].2)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tables_are_sorted_unique_and_well_formed() {
        assert!(LANGUAGES.windows(2).all(|w| w[0].0 < w[1].0));
        assert!(
            WITH_SCRIPT
                .windows(2)
                .all(|w| (w[0].0, w[0].1) < (w[1].0, w[1].1))
        );
        for (code, label) in LANGUAGES {
            assert!(matches!(code.len(), 2 | 3), "{code}");
            assert!(code.bytes().all(|b| b.is_ascii_lowercase()), "{code}");
            assert!(!label.is_empty() && label.trim() == *label, "{code}");
        }
        for (code, script, _) in WITH_SCRIPT {
            assert!(name(code).is_some(), "{code}");
            assert_eq!(script.len(), 4);
        }
        // The 184 codes of ISO 639-1, and sh (Serbo-Croatian), which the registry keeps.
        assert_eq!(LANGUAGES.iter().filter(|(c, _)| c.len() == 2).count(), 185);
    }

    #[test]
    fn lookups() {
        assert_eq!(name("de"), Some("Deutsch"));
        assert_eq!(name("tr"), Some("Türkçe"));
        assert_eq!(name("yue"), Some("粵語"));
        assert_eq!(name("fra"), None, "fr has a two-letter code");
        assert_eq!(name("xx"), None);
        assert_eq!(name_in_script("zh", "Hant"), Some("繁體中文"));
        assert_eq!(name_in_script("zh", "Latn"), None);
    }
}
