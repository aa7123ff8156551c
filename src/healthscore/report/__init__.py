"""The backtest report: one self-contained HTML page that opens with the network off."""

from healthscore.report._html import render_report, write_report

__all__ = ["render_report", "write_report"]
