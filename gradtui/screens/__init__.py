from gradtui.screens.help import HelpScreen
from gradtui.screens.presets import PresetPicker

__all__ = ["HelpScreen", "PresetPicker"]
