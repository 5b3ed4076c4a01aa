"""Agents: the shared MCP agent registry, its `agents` root and the operators' mutations."""

from graph.agents.mutations import AgentsMutation
from graph.agents.queries import AgentsQuery
from graph.agents.types import MCPAgentNode

__all__ = ["AgentsMutation", "AgentsQuery", "MCPAgentNode"]
