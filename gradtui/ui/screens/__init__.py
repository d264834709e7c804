from gradtui.ui.screens.help import HelpScreen
from gradtui.ui.screens.pickers import ChoicePicker, NumberInput, SettingsMenu
from gradtui.ui.screens.presets import PresetPicker

__all__ = ["ChoicePicker", "HelpScreen", "NumberInput", "PresetPicker", "SettingsMenu"]
