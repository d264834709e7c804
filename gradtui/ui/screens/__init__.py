from gradtui.ui.screens.help import HelpScreen
from gradtui.ui.screens.presets import PresetPicker

__all__ = ["HelpScreen", "PresetPicker"]
