"""VK collector: walls, comments and keyword search through the VK API (vk-api), mapped to Posts."""
