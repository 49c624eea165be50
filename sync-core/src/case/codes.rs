//! The coded values of a case: each enum has a stable wire code, a zh-CN and an English
//! label. Codes are what documents, the protocol, the database and the bindings carry;
//! labels are for people.

/// Defines a code enum: `as_code`, `from_code`, `label_zh`, `label_en`, `ALL`, `FromStr`,
/// `Display` (the code) and serde as the code string.
macro_rules! code_enum {
    (
        $(#[$meta:meta])*
        pub enum $name:ident {
            default $dv:ident = $dcode:literal, $dzh:literal, $den:literal;
            $( $variant:ident = $code:literal, $zh:literal, $en:literal; )+
        }
    ) => {
        $(#[$meta])*
        #[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum $name {
            #[default]
            $dv,
            $( $variant, )+
        }

        impl $name {
            /// Every value, in declaration order.
            pub const ALL: &'static [$name] = &[$name::$dv, $( $name::$variant, )+];

            /// The stable wire code.
            pub fn as_code(self) -> &'static str {
                match self {
                    $name::$dv => $dcode,
                    $( $name::$variant => $code, )+
                }
            }

            pub fn from_code(code: &str) -> Option<Self> {
                Self::ALL.iter().copied().find(|v| v.as_code() == code)
            }

            pub fn label_zh(self) -> &'static str {
                match self {
                    $name::$dv => $dzh,
                    $( $name::$variant => $zh, )+
                }
            }

            pub fn label_en(self) -> &'static str {
                match self {
                    $name::$dv => $den,
                    $( $name::$variant => $en, )+
                }
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_code())
            }
        }

        impl std::str::FromStr for $name {
            type Err = crate::Error;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                Self::from_code(s).ok_or_else(|| crate::Error::InvalidCode {
                    kind: stringify!($name),
                    value: s.chars().take(64).collect(),
                })
            }
        }

        impl serde::Serialize for $name {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_str(self.as_code())
            }
        }

        impl<'de> serde::Deserialize<'de> for $name {
            fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let s = <std::borrow::Cow<'de, str>>::deserialize(d)?;
                s.parse().map_err(serde::de::Error::custom)
            }
        }
    };
}

pub(crate) use code_enum;

code_enum! {
    /// Dispute category (DESIGN §3.1). `Other` is the default and the export fallback.
    pub enum Category {
        default Other = "OTHER", "其他", "Other";
        MarriageFamily = "MARRIAGE_FAMILY", "婚姻家庭", "Marriage and family";
        Neighbour = "NEIGHBOUR", "邻里纠纷", "Neighbours";
        LabourWages = "LABOUR_WAGES", "劳资纠纷(欠薪)", "Labour and unpaid wages";
        LandContract = "LAND_CONTRACT", "土地承包", "Land contracting";
        HomesteadHousing = "HOMESTEAD_HOUSING", "房屋和宅基地", "Homestead and housing";
        ForestWaterBoundary = "FOREST_WATER_BOUNDARY", "山林水利界限权属", "Forest, water and boundaries";
        LandAcquisitionDemolition = "LAND_ACQUISITION_DEMOLITION", "征地拆迁", "Land acquisition and demolition";
        ContractDebt = "CONTRACT_DEBT", "合同债务", "Contracts and debts";
        DamageCompensation = "DAMAGE_COMPENSATION", "损害赔偿", "Damage compensation";
        TrafficAccident = "TRAFFIC_ACCIDENT", "道路交通事故", "Road traffic accidents";
        Medical = "MEDICAL", "医患纠纷", "Medical disputes";
        PropertyMgmt = "PROPERTY_MGMT", "物业管理", "Property management";
        Construction = "CONSTRUCTION", "建筑工程", "Construction";
        Consumer = "CONSUMER", "消费纠纷", "Consumer disputes";
        Environment = "ENVIRONMENT", "环境生态", "Environment";
        VillageAffairs = "VILLAGE_AFFAIRS", "村(社区)务管理", "Village affairs";
        AdminEnforcement = "ADMIN_ENFORCEMENT", "行政执法活动", "Administrative enforcement";
    }
}

code_enum! {
    /// Risk grade (四色预警). Red cases must be accepted within 2 hours.
    pub enum RiskLevel {
        default Green = "GREEN", "绿色(低)", "Green (low)";
        Yellow = "YELLOW", "黄色(较低)", "Yellow (moderate)";
        Orange = "ORANGE", "橙色(较高)", "Orange (high)";
        Red = "RED", "红色(高)", "Red (severe)";
    }
}

code_enum! {
    /// Danger signals; any one makes a case high-risk.
    pub enum RiskFlag {
        default CriminalTendency = "CRIMINAL_TENDENCY", "民转刑苗头", "Criminal tendency";
        GroupPetition = "GROUP_PETITION", "群体性上访苗头", "Group petition";
        Stability = "STABILITY", "影响社会稳定", "Threat to stability";
        Threats = "THREATS", "扬言报复/过激言行", "Threats";
        Repeat = "REPEAT", "反复纠纷", "Repeat dispute";
        VulnerableParty = "VULNERABLE_PARTY", "涉及弱势群体", "Vulnerable party";
    }
}

code_enum! {
    /// Difficulty, which selects the handling limit ("3715": 3/7/15 days).
    pub enum Difficulty {
        default General = "GENERAL", "一般", "General";
        Simple = "SIMPLE", "简易", "Simple";
        Complex = "COMPLEX", "疑难复杂", "Complex";
    }
}

code_enum! {
    /// How the case reached the system (来源).
    pub enum Source {
        default GridVisit = "GRID_VISIT", "网格走访", "Grid visit";
        WalkIn = "WALK_IN", "来访", "Walk-in";
        Hotline = "HOTLINE", "热线", "Hotline";
        Police = "POLICE", "公安110转办", "Police referral";
        CourtReferral = "COURT_REFERRAL", "法院委派", "Court referral";
        Petition = "PETITION", "信访转办", "Petition";
        Online = "ONLINE", "网上受理", "Online";
        Other = "OTHER", "其他", "Other";
    }
}

code_enum! {
    /// A party's role in the dispute.
    pub enum PartyRole {
        default Applicant = "APPLICANT", "申请人", "Applicant";
        Respondent = "RESPONDENT", "被申请人", "Respondent";
        ThirdParty = "THIRD_PARTY", "第三人", "Third party";
    }
}

code_enum! {
    /// Identity document type (GA/T 517 subset).
    pub enum IdDocType {
        default IdCard = "ID_CARD", "居民身份证", "Resident ID card";
        Passport = "PASSPORT", "护照", "Passport";
        HkMacauPermit = "HK_MACAU_PERMIT", "港澳居民来往内地通行证", "Home-return permit (HK/Macau)";
        TaiwanPermit = "TAIWAN_PERMIT", "台湾居民来往大陆通行证", "Mainland travel permit (Taiwan)";
        BusinessLicence = "BUSINESS_LICENCE", "统一社会信用代码", "Unified social credit code";
        NoDocument = "NONE", "无", "None";
    }
}

code_enum! {
    /// Sex (GB/T 2261.1).
    pub enum Sex {
        default Unspecified = "UNSPECIFIED", "未说明", "Not stated";
        Male = "MALE", "男", "Male";
        Female = "FEMALE", "女", "Female";
    }
}

code_enum! {
    /// What kind of work a note records.
    pub enum NoteKind {
        default Other = "OTHER", "其他", "Other";
        HomeVisit = "HOME_VISIT", "入户走访", "Home visit";
        PhoneCall = "PHONE_CALL", "电话沟通", "Phone call";
        MediationFaceToFace = "MEDIATION_FACE_TO_FACE", "面对面调解", "Mediation, face to face";
        MediationBackToBack = "MEDIATION_BACK_TO_BACK", "背靠背调解", "Mediation, back to back";
        MediationRemote = "MEDIATION_REMOTE", "远程视频调解", "Mediation, remote";
        LegalExplanation = "LEGAL_EXPLANATION", "释法明理", "Legal explanation";
        MediationRecord = "MEDIATION_RECORD", "调解笔录", "Mediation record";
        VisitRecord = "VISIT_RECORD", "走访记录", "Visit record";
    }
}

code_enum! {
    /// What an attachment holds.
    pub enum AttachmentKind {
        default Photo = "PHOTO", "照片", "Photo";
        Audio = "AUDIO", "录音", "Audio";
        Document = "DOCUMENT", "文书", "Document";
        Agreement = "AGREEMENT", "调解协议书", "Signed agreement";
    }
}

code_enum! {
    /// Written or oral agreement (人民调解法 Art 28).
    pub enum AgreementForm {
        default Written = "WRITTEN", "书面协议", "Written agreement";
        Oral = "ORAL", "口头协议", "Oral agreement";
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_code_round_trips_and_is_unique() {
        fn check<T: Copy + Eq + std::fmt::Debug + std::str::FromStr>(
            all: &[T],
            code: fn(T) -> &'static str,
        ) where
            T::Err: std::fmt::Debug,
        {
            let mut seen = std::collections::HashSet::new();
            for v in all {
                assert!(seen.insert(code(*v)), "duplicate code {}", code(*v));
                assert_eq!(code(*v).parse::<T>().unwrap(), *v);
            }
        }
        check(Category::ALL, Category::as_code);
        check(RiskLevel::ALL, RiskLevel::as_code);
        check(RiskFlag::ALL, RiskFlag::as_code);
        check(Difficulty::ALL, Difficulty::as_code);
        check(Source::ALL, Source::as_code);
        check(PartyRole::ALL, PartyRole::as_code);
        check(IdDocType::ALL, IdDocType::as_code);
        check(Sex::ALL, Sex::as_code);
        check(NoteKind::ALL, NoteKind::as_code);
        check(AttachmentKind::ALL, AttachmentKind::as_code);
        check(AgreementForm::ALL, AgreementForm::as_code);
        assert_eq!(Category::ALL.len(), 18);
    }

    #[test]
    fn labels_in_both_languages() {
        assert_eq!(Category::LabourWages.label_zh(), "劳资纠纷(欠薪)");
        assert_eq!(Category::Other.label_en(), "Other");
        assert_eq!(RiskFlag::CriminalTendency.as_code(), "CRIMINAL_TENDENCY");
        assert!("NOT_A_CATEGORY".parse::<Category>().is_err());
    }
}
