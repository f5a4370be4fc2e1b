"""Operations: health, metrics, model administration, the built-in page."""
