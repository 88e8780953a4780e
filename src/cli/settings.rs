//! The settings as command-line flags, derived from the one list of them.

use clap::parser::ValueSource;
use clap::{Arg, ArgAction, ArgMatches, Args, Command, FromArgMatches};

use tradeq_server::config::{Kind, Setting, SETTINGS};

/// The flag of `setting`, which also reads its `TRADEQ_*` variable (values never shown in help:
/// one is a secret).
pub fn setting_arg(setting: &Setting) -> Arg {
    let arg = Arg::new(setting.name)
        .long(setting.flag())
        .value_name(setting.kind.placeholder())
        .value_parser(clap::value_parser!(String))
        .action(ArgAction::Set)
        .env(setting.env_var())
        .hide_env_values(true)
        .help(setting.meaning());
    if setting.kind == Kind::Bool {
        // `--explain-in-errors` alone means true.
        arg.num_args(0..=1).default_missing_value("true")
    } else {
        arg
    }
}

/// Every setting given as a flag: (setting name, text). Variables are read with the file, by
/// `ServerConfig::load`, so that each value knows where it came from.
#[derive(Debug, Clone, Default)]
pub struct SettingFlags(pub Vec<(&'static str, String)>);

impl FromArgMatches for SettingFlags {
    fn from_arg_matches(matches: &ArgMatches) -> Result<Self, clap::Error> {
        let given = SETTINGS
            .iter()
            .filter(|s| matches.value_source(s.name) == Some(ValueSource::CommandLine))
            .filter_map(|s| Some((s.name, matches.get_one::<String>(s.name)?.clone())))
            .collect();
        Ok(SettingFlags(given))
    }

    fn update_from_arg_matches(&mut self, matches: &ArgMatches) -> Result<(), clap::Error> {
        *self = SettingFlags::from_arg_matches(matches)?;
        Ok(())
    }
}

impl Args for SettingFlags {
    fn augment_args(cmd: Command) -> Command {
        cmd.args(SETTINGS.iter().map(setting_arg))
    }

    fn augment_args_for_update(cmd: Command) -> Command {
        SettingFlags::augment_args(cmd)
    }
}
